Feature: Webhooks with guaranteed delivery
  Workspace owners and admins register webhook URLs for kinds of events.
  Every change records its event in the same transaction (the outbox); the
  dispatcher hands events to the webhooks that take them and POSTs each one,
  signed as the Standard Webhooks specification says, retrying failures with
  exponential backoff until the delivery is dead, which an admin may replay.
  A receiver that deduplicates on the event id sees every event once.

  Scenario: Events reach a registered webhook, signed, once each
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    When "alice" registers the webhook receiver for "message.created, file.shared"
    Then the response status is 201
    And the response field "events.1" is "file.shared"
    And the response has a string field "secret"
    Given "bob" has posted "first" to channel "general" as "first"
    And "bob" has posted "second" to channel "general" as "second"
    And "bob" has reacted to "second" in channel "general" with 1 different short codes
    When the dispatcher runs until the receiver has taken 2 events
    And the dispatcher runs
    Then the receiver has taken "message.created, message.created", each once and each signed
    And every event the receiver took is about workspace "acme", done by "bob"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}"
    Then the response status is 200
    And the response body does not mention "whsec_"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}/deliveries?status=delivered"
    Then the response list "deliveries" has 2 items
    And the response field "deliveries.0.attempts" is 1
    And the response field "deliveries.0.last_status" is 204

  Scenario: A failing receiver is retried with backoff, dead-lettered, and replayed
    Given a running team-collab server that may call the webhook receiver, 3 attempts per delivery
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And the webhook receiver answers 503
    When "alice" registers the webhook receiver for "message.created"
    And "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"are you there?"}'
    And the dispatcher runs until "alice" sees 1 dead delivery of webhook "receiver"
    Then the receiver has been asked 3 times, always for the same event
    And the waits between the attempts were at least 1 and 2 seconds
    And the response field "deliveries.0.status" is "dead"
    And the response field "deliveries.0.attempts" is 3
    And the response field "deliveries.0.last_status" is 503
    And the response field "deliveries.0.last_error" is "the receiver answered 503: receiver says no"
    When the webhook receiver recovers
    And "alice" replays the dead delivery of the webhook receiver
    Then the response status is 202
    And the response field "status" is "pending"
    And the response field "attempts" is 0
    When the dispatcher runs until the receiver has taken 1 event
    Then the receiver has taken "message.created", each once and each signed
    And the receiver has been asked 4 times, always for the same event
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}/deliveries/{delivery:dead}/replay"
    Then the response status is 409
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}/deliveries?status=dead"
    Then the response list "deliveries" has 0 items

  Scenario: A receiver that deduplicates sees each event once, even when dispatchers race
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And the webhook receiver takes each delivery but fails to acknowledge it the first time
    When "alice" registers the webhook receiver for "message.created, message.deleted"
    Given "alice" has posted 6 messages to channel "general"
    When 4 dispatchers run at once
    And 4 dispatchers run at once
    And the dispatcher runs until the receiver has been asked 12 times
    Then the receiver has been asked 12 times and took 6 events
    And the receiver has taken "message.created, message.created, message.created, message.created, message.created, message.created", each once and each signed

  Scenario: An event committed before a crash is delivered after the restart
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And the webhook receiver answers 503
    When "alice" registers the webhook receiver for "message.created"
    And "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"before the crash"}'
    Then the response status is 201
    When the server restarts
    And the webhook receiver recovers
    And the dispatcher runs until the receiver has taken 1 event
    Then the receiver has taken "message.created", each once and each signed

  @cron
  Scenario: The runtime's cron trigger runs the dispatcher by itself
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    When "alice" registers the webhook receiver for "message.created"
    And "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"on schedule"}'
    Then within 10 seconds the receiver has taken 1 event without anyone running the dispatcher

  Scenario: Only owners and admins manage webhooks, and bad registrations change nothing
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "bob" has signed up
    And "dave" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "bob" registers the webhook receiver for "message.created"
    Then the response status is 403
    When "dave" registers the webhook receiver for "message.created"
    Then the response status is 404
    When "alice" registers the webhook URL "ftp://hooks.example.com/in" for "message.created" as "ftp"
    Then the response status is 400
    And the error message mentions "https://"
    When "alice" registers the webhook URL "https://user:pw@hooks.example.com/in" for "message.created" as "credentials"
    Then the response status is 400
    When "alice" registers the webhook URL "https://hooks.example.com/in" for "message.exploded" as "unknown"
    Then the response status is 400
    And the error message mentions "message.exploded"
    And the error message mentions "file.shared"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/webhooks" with body '{"url":"https://hooks.example.com/in","events":[]}'
    Then the response status is 400
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/webhooks"
    Then the response status is 200
    And the response list "webhooks" has 0 items
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/webhooks"
    Then the response status is 403

  Scenario: A receiver the manifest does not allow is dead at once, and deleting a webhook drops its deliveries
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    When "alice" registers the webhook URL "http://127.0.0.1:9/not-allowed" for "message.created" as "blocked"
    And "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"nobody may hear this"}'
    And the dispatcher runs until "alice" sees 1 dead delivery of webhook "blocked"
    Then the response list "deliveries" has 1 item
    And the response field "deliveries.0.attempts" is 1
    And the response field "deliveries.0.last_error" is "http://127.0.0.1:9/not-allowed is not in the component's allowed_outbound_hosts"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/webhooks/{webhook:blocked}"
    Then the response status is 204
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/webhooks/{webhook:blocked}/deliveries"
    Then the response status is 404
    And the receiver has not been asked

  Scenario: The dispatch route takes only the dispatch secret
    Given a running team-collab server that may call the webhook receiver
    And "alice" has signed up
    When a client sends POST "/internal/dispatch"
    Then the response status is 401
    When a client sends POST "/internal/dispatch" with header "authorization" set to "Bearer not-the-dispatch-secret-0123456789abcdef"
    Then the response status is 403
    When "alice" sends POST "/internal/dispatch"
    Then the response status is 403
    When the dispatcher runs
    Then the response status is 200
    And the response field "events" is 0

  Scenario: Without a dispatch secret the dispatch route is not there
    Given a running team-collab server without a dispatch secret
    And "alice" has signed up
    When a client sends POST "/internal/dispatch" with header "authorization" set to "Bearer keel-test-dispatch-secret-0123456789abcdef"
    Then the response status is 404
