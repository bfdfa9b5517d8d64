Feature: keel:infrastructure/sql conformance
  Every `sql` implementation runs this suite through the SQL probe
  component, so adapters prove they are interchangeable.

  Background:
    Given a running sql implementation
    And the probe has created the items table in its dialect

  Scenario: The adapter reports its dialect
    When a client sends GET "/dialect"
    Then the response status is 200
    And the response has a string field "dialect"

  Scenario: Repeated placeholders and placeholders out of order bind the right values
    Given the probe has inserted items "a, b, c" with quantities "1, 2, 3"
    When a client sends POST "/query" with body '{"sql":"SELECT name FROM items WHERE qty >= ?2 AND qty <= ?1 AND name <> ?3 AND name <> ?3 ORDER BY name","params":[{"integer":3},{"integer":2},{"text":"a"}]}'
    Then the response status is 200
    And the response field "rows" is '[[{"text":"b"}],[{"text":"c"}]]'

  Scenario: Typed values round-trip
    When a client sends POST "/execute" with body '{"sql":"INSERT INTO items (name, qty, price, data) VALUES (?1, ?2, ?3, ?4)","params":[{"text":"wídget ✓"},{"integer":-9223372036854775808},{"real":2.5},{"blob":"00ff10"}]}'
    Then the response status is 200
    And the response field "rows_affected" is 1
    And the last insert id is 1 where the dialect reports one
    When a client sends POST "/query" with body '{"sql":"SELECT name, qty, price, data, NULL AS missing FROM items","params":[]}'
    Then the response status is 200
    And the response field "columns" is '["name","qty","price","data","missing"]'
    And the response field "rows.0" is '[{"text":"wídget ✓"},{"integer":-9223372036854775808},{"real":2.5},{"blob":"00ff10"},{"null":null}]'

  Scenario: Null parameters and empty blobs are stored as such
    When a client sends POST "/execute" with body '{"sql":"INSERT INTO items (name, qty, data) VALUES (?1, ?2, ?3)","params":[{"text":"n"},{"null":null},{"blob":""}]}'
    Then the response status is 200
    When a client sends POST "/query" with body '{"sql":"SELECT qty, data FROM items WHERE qty IS NULL","params":[]}'
    Then the response field "rows" is '[[{"null":null},{"blob":""}]]'

  Scenario: Rows affected counts updated and deleted rows
    Given the probe has inserted items "a, b, c" with quantities "1, 2, 3"
    When a client sends POST "/execute" with body '{"sql":"UPDATE items SET qty = 0 WHERE qty > ?1","params":[{"integer":1}]}'
    Then the response field "rows_affected" is 2
    When a client sends POST "/execute" with body '{"sql":"DELETE FROM items WHERE qty = ?1","params":[{"integer":0}]}'
    Then the response field "rows_affected" is 2
    When a client sends POST "/execute" with body '{"sql":"DELETE FROM items WHERE qty = ?1","params":[{"integer":0}]}'
    Then the response field "rows_affected" is 0

  Scenario: Last insert id follows the inserted rows
    Given the probe has inserted items "a, b" with quantities "1, 2"
    When a client sends POST "/execute" with body '{"sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"c"}]}'
    Then the last insert id is 3 where the dialect reports one

  Scenario: A unique-constraint violation is a conflict
    Given the probe has inserted items "a" with quantities "1"
    When a client sends POST "/execute" with body '{"sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"a"}]}'
    Then the response status is 409
    And the error code is "conflict"

  Scenario: A NOT NULL violation is a conflict
    When a client sends POST "/execute" with body '{"sql":"INSERT INTO items (name) VALUES (?1)","params":[{"null":null}]}'
    Then the response status is 409
    And the error code is "conflict"

  Scenario: Invalid SQL is an invalid query
    When a client sends POST "/query" with body '{"sql":"SELEKT nothing","params":[]}'
    Then the response status is 400
    And the error code is "invalid_query"

  Scenario: A committed transaction is visible afterwards
    When a client sends POST "/transaction" with body '{"steps":[{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"t1"}]},{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"t2"}]},{"op":"query","sql":"SELECT COUNT(*) AS n FROM items","params":[]}],"finish":"commit"}'
    Then the response status is 200
    And the response field "results.2.rows.0.0" is '{"integer":2}'
    And the response field "after_finish_error" is "transaction_closed"
    And the probe counts 2 items

  Scenario: A rolled-back transaction leaves nothing behind
    When a client sends POST "/transaction" with body '{"steps":[{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"t1"}]}],"finish":"rollback"}'
    Then the response status is 200
    And the response field "after_finish_error" is "transaction_closed"
    And the probe counts 0 items

  Scenario: A transaction dropped without commit is rolled back
    When a client sends POST "/transaction" with body '{"steps":[{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"t1"}]}],"finish":"drop"}'
    Then the response status is 200
    And the probe counts 0 items

  Scenario: A failing statement inside a transaction discards the earlier ones
    Given the probe has inserted items "taken" with quantities "1"
    When a client sends POST "/transaction" with body '{"steps":[{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"fresh"}]},{"op":"execute","sql":"INSERT INTO items (name) VALUES (?1)","params":[{"text":"taken"}]}],"finish":"commit"}'
    Then the response status is 409
    And the probe counts 1 item
