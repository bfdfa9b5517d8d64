Feature: keel:infrastructure/auth conformance for OpenID Connect providers
  Every OIDC auth adapter (Okta, Auth0) runs this suite through the auth
  probe against a local issuer that publishes a discovery document and a
  JWKS with an RS256 and an ES256 key, and counts how often its keys are
  fetched.

  Background:
    Given a running oidc implementation

  Scenario: A valid RS256 token is accepted
    When the auth probe verifies a valid RS256 token
    Then the probe returns the token's identity

  Scenario: A valid ES256 token is accepted
    When the auth probe verifies a valid ES256 token
    Then the probe returns the token's identity

  Scenario Outline: A bad token is refused as invalid
    When the auth probe verifies an <alg> token that is "<defect>"
    Then the response status is 401
    And the error code is "invalid-token"

    Examples:
      | alg   | defect                     |
      | RS256 | expired                    |
      | ES256 | expired                    |
      | RS256 | not yet valid              |
      | RS256 | for another audience       |
      | ES256 | from another issuer        |
      | RS256 | tampered with              |
      | ES256 | tampered with              |
      | RS256 | signed with an unknown key |
      | RS256 | unsigned                   |
      | RS256 | signed with HS256          |

  Scenario: The issuer's keys are fetched once and then cached
    When the auth probe verifies a valid RS256 token
    And the auth probe verifies a valid ES256 token
    And the auth probe verifies a valid RS256 token
    Then the probe returns the token's identity
    And the issuer has served its keys 1 time

  Scenario: A rotated key is fetched when a token names it
    When the auth probe verifies a valid RS256 token
    Then the issuer has served its keys 1 time
    Given the issuer publishes a new RS256 key
    When the auth probe verifies a valid RS256 token
    Then the probe returns the token's identity
    And the issuer has served its keys 2 times

  Scenario: Unknown key ids refetch the keys once, not on every token
    When the auth probe verifies a valid ES256 token
    And the auth probe verifies an ES256 token that is "signed with an unknown key"
    Then the response status is 401
    And the error code is "invalid-token"
    And the issuer has served its keys 2 times
    When the auth probe verifies an RS256 token that is "signed with an unknown key"
    Then the response status is 401
    And the issuer has served its keys 2 times

  Scenario: A discovery document that names another issuer is refused
    Given the issuer's discovery document names another issuer
    When the auth probe verifies a valid RS256 token
    Then the response status is 503
    And the error code is "unavailable"

  Scenario: An unreachable issuer makes verification unavailable
    Given the issuer is down
    When the auth probe verifies a valid RS256 token
    Then the response status is 503
    And the error code is "unavailable"

  Scenario: Passwords and token issuing are left to the identity provider
    When a client sends POST "/hash-password" with body '{"password":"correct-horse-1"}'
    Then the response status is 501
    And the error code is "unsupported"
    When a client sends POST "/issue-token" with body '{"subject":"user-1","ttl_seconds":60}'
    Then the response status is 501
    And the error code is "unsupported"
