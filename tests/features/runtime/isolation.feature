@keel-only
Feature: Runtime isolation
  A component that runs away, traps or exhausts its memory fails only its
  own request; the server keeps serving. (The timeout is 1 second where a
  scenario is about it, and long enough elsewhere that a loaded machine
  does not turn a trap into a timeout.)

  Scenario: A runaway request is cut off with 504
    Given a running fault probe with a request timeout of 1 second
    When a client sends POST "/fault/spin"
    Then the response status is 504
    And the error code is "timeout"
    When the kv probe runs '{"op":"set","key":"alive","value":"yes"}'
    Then the response status is 200

  Scenario: A trapping request gets 500 and the next request is served
    Given a running fault probe with a request timeout of 30 seconds
    When a client sends POST "/fault/trap"
    Then the response status is 500
    And the error code is "internal"
    When the kv probe runs '{"op":"get","key":"missing"}'
    Then the response status is 200

  Scenario: A request that exhausts instance memory fails alone
    Given a running fault probe with a request timeout of 30 seconds
    When a client sends POST "/fault/exhaust-memory"
    Then the response status is 500
    When the kv probe runs '{"op":"get","key":"missing"}'
    Then the response status is 200

  Scenario: Other requests are served while one runs away
    Given a running fault probe with a request timeout of 1 second
    When a client sends POST "/fault/spin" while 20 other requests are made
    Then all 20 other responses have status 200
