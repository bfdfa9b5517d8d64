Feature: sql-postgres over TLS
  A PostgreSQL server with a private CA (a managed database, a self-signed
  server) is reached over verified TLS: the `postgres_ca_root` variable
  names the CA to trust, `sslmode` in the address says whether TLS is
  required. The server here is a TLS front for the local test database
  that turns away plain-text clients.

  Scenario: With the CA root and sslmode=require, queries run over TLS
    Given a sql probe on PostgreSQL behind TLS, with "sslmode=require" in its address and with the CA root
    When a client sends POST "/query" with body '{"sql":"SELECT 40 + 2 AS answer","params":[]}'
    Then the response status is 200
    And the response field "rows.0.0" is '{"integer":42}'

  Scenario: With the default sslmode the client still negotiates TLS
    Given a sql probe on PostgreSQL behind TLS, with "" in its address and with the CA root
    When a client sends POST "/query" with body '{"sql":"SELECT 1 AS one","params":[]}'
    Then the response status is 200

  Scenario: A server certificate from an untrusted CA is refused
    Given a sql probe on PostgreSQL behind TLS, with "sslmode=require" in its address and without the CA root
    When a client sends POST "/query" with body '{"sql":"SELECT 1 AS one","params":[]}'
    Then the response status is 503
    And the error message mentions "certificate"

  Scenario: sslmode=prefer does not fall back to plain text past a bad certificate
    Given a sql probe on PostgreSQL behind TLS, with "sslmode=prefer" in its address and without the CA root
    When a client sends POST "/query" with body '{"sql":"SELECT 1 AS one","params":[]}'
    Then the response status is 503
    And the error message mentions "certificate"

  Scenario: sslmode=disable speaks plain text, which a TLS-only server turns away
    Given a sql probe on PostgreSQL behind TLS, with "sslmode=disable" in its address and with the CA root
    When a client sends POST "/query" with body '{"sql":"SELECT 1 AS one","params":[]}'
    Then the response status is 503

  Scenario: A CA root that is not a certificate is a clear error
    Given a sql probe on PostgreSQL behind TLS, with "sslmode=require" in its address and a CA root of "not a certificate"
    When a client sends POST "/query" with body '{"sql":"SELECT 1 AS one","params":[]}'
    Then the response status is 503
    And the error message mentions "CA root"
