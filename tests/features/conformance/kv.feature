Feature: keel:infrastructure/kv conformance
  Every `kv` implementation runs this suite through the KV probe component,
  so adapters and host backends prove they are interchangeable.

  Background:
    Given a running kv implementation

  Scenario: Set, get, exists and delete
    When the kv probe runs '{"op":"set","key":"greeting","value":"hello"}'
    Then the response status is 200
    When the kv probe runs '{"op":"get","key":"greeting"}'
    Then the response field "value" is "hello"
    When the kv probe runs '{"op":"exists","key":"greeting"}'
    Then the response field "exists" is true
    When the kv probe runs '{"op":"delete","key":"greeting"}'
    Then the response status is 200
    When the kv probe runs '{"op":"get","key":"greeting"}'
    Then the response field "value" is null
    When the kv probe runs '{"op":"exists","key":"greeting"}'
    Then the response field "exists" is false

  Scenario: Absent keys read as none and delete quietly
    When the kv probe runs '{"op":"get","key":"missing"}'
    Then the response field "value" is null
    When the kv probe runs '{"op":"delete","key":"missing"}'
    Then the response status is 200

  Scenario: Setting a key again replaces its value
    When the kv probe runs '{"op":"set","key":"k","value":"one"}'
    And the kv probe runs '{"op":"set","key":"k","value":"two"}'
    And the kv probe runs '{"op":"get","key":"k"}'
    Then the response field "value" is "two"

  Scenario: Keys are listed by prefix, sorted
    Given the kv probe has set keys "user:2, user:1, team:1, user:10"
    When the kv probe runs '{"op":"list_keys","prefix":"user:"}'
    Then the response field "keys" is '["user:1","user:10","user:2"]'
    When the kv probe runs '{"op":"list_keys","prefix":""}'
    Then the response list "keys" has 4 items

  Scenario: A value with a TTL expires
    When the kv probe runs '{"op":"set","key":"session","value":"s1","ttl_seconds":1}'
    And the kv probe runs '{"op":"get","key":"session"}'
    Then the response field "value" is "s1"
    When within 5 seconds the kv probe runs '{"op":"get","key":"session"}' until the response field "value" is null
    And the kv probe runs '{"op":"exists","key":"session"}'
    Then the response field "exists" is false
    When the kv probe runs '{"op":"list_keys","prefix":"sess"}'
    Then the response list "keys" has 0 items

  Scenario: Setting a key without TTL clears an earlier expiry
    When the kv probe runs '{"op":"set","key":"k","value":"short","ttl_seconds":1}'
    And the kv probe runs '{"op":"set","key":"k","value":"forever"}'
    And 1500 milliseconds pass
    And the kv probe runs '{"op":"get","key":"k"}'
    Then the response field "value" is "forever"

  Scenario: Counters increment atomically from zero
    When the kv probe runs '{"op":"increment","key":"hits","delta":5}'
    Then the response field "value" is 5
    When the kv probe runs '{"op":"increment","key":"hits","delta":-7}'
    Then the response field "value" is -2
    When the kv probe runs '{"op":"get","key":"hits"}'
    Then the response field "value" is "-2"

  Scenario: Incrementing a value that is not a number is refused
    When the kv probe runs '{"op":"set","key":"name","value":"alice"}'
    And the kv probe runs '{"op":"increment","key":"name","delta":1}'
    Then the response status is 400
    And the error code is "invalid_input"

  Scenario: An empty key is refused
    When the kv probe runs '{"op":"set","key":"","value":"x"}'
    Then the response status is 400
    And the error code is "invalid_input"

  Scenario: A counter started with a TTL expires, and later increments keep that expiry
    When the kv probe runs '{"op":"increment","key":"window","delta":1,"ttl_seconds":1}'
    Then the response field "value" is 1
    When the kv probe runs '{"op":"increment","key":"window","delta":2,"ttl_seconds":3600}'
    Then the response field "value" is 3
    When within 5 seconds the kv probe runs '{"op":"get","key":"window"}' until the response field "value" is null
    And the kv probe runs '{"op":"increment","key":"window","delta":1,"ttl_seconds":3600}'
    Then the response field "value" is 1

  Scenario: A TTL increment of a counter without expiry leaves it without expiry
    When the kv probe runs '{"op":"increment","key":"total","delta":1}'
    And the kv probe runs '{"op":"increment","key":"total","delta":1,"ttl_seconds":1}'
    Then the response field "value" is 2
    When 1500 milliseconds pass
    And the kv probe runs '{"op":"get","key":"total"}'
    Then the response field "value" is "2"

  Scenario: A TTL increment needs a TTL of at least one second
    When the kv probe runs '{"op":"increment","key":"window","delta":1,"ttl_seconds":0}'
    Then the response status is 400
    And the error code is "invalid_input"
    When the kv probe runs '{"op":"exists","key":"window"}'
    Then the response field "exists" is false

  Scenario: Concurrent TTL increments lose no update
    When 8 clients each increment "limited" 100 times with a TTL of 60 seconds
    And the kv probe runs '{"op":"get","key":"limited"}'
    Then the response field "value" is "800"

  Scenario: Concurrent increments lose no update
    When 8 clients each increment "counter" 200 times
    And the kv probe runs '{"op":"get","key":"counter"}'
    Then the response field "value" is "1600"
