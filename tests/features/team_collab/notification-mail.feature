Feature: Mail about mentions and replies, as each person wants it
  The dispatcher mails people what concerns them: a mention, or a reply in
  a thread they started. Mail waits `notification_digest_seconds` after
  the first notification, so several close together arrive as one digest,
  and what the person read in the app meanwhile is left out. Each person
  chooses per kind and channel (inbox, email) what reaches them, and quiet
  hours without mail. Workspace admins may reword the mail (templates).

  Background:
    Given a running team-collab server with its dispatcher, mail after 1 second
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "dave" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "dave" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"

  Scenario: Members mentioned in a message are told by email, by name; others are not
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:alice}> <@{user:dave}> <@{user:carol}> <@{user:bob}> ship it?"}'
    Then the response status is 201
    And I remember the response field "id" as "message"
    When the dispatcher runs until "dave" received 3 emails
    And the dispatcher runs until "alice" received 2 emails
    Then the last email to "alice" has subject "bob mentioned you in #general"
    And the last email to "alice" says 'bob mentioned you in #general (acme):'
    And the last email to "alice" says '@alice @dave <@'
    And the last email to "alice" says 'Message id: {message}'
    And the last email to "dave" has subject "bob mentioned you in #general"
    # Carol is not a member and Bob wrote it: neither hears about it, and
    # the mail does not show Carol's name to the workspace.
    And the last email to "dave" does not say 'carol'
    And "carol" received 1 email
    And "bob" received 2 emails
    # A reply mentions too; an edit that mentions the same people again does not mail again.
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message}/replies" with body '{"text":"<@{user:dave}> friday then"}'
    Then the response status is 201
    When the dispatcher runs until "dave" received 4 emails
    And "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message}" with body '{"text":"<@{user:alice}> <@{user:dave}> ship it!"}'
    Then the response status is 200
    When the dispatcher runs for 2 seconds
    Then "dave" received 4 emails
    And "alice" received 2 emails

  Scenario: Notifications close together arrive as one digest, without what was read in the app
    Given "alice" has posted "who can ship on friday?" to channel "general" as "ask"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> first"}'
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> second"}'
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> seen in the app"}'
    And "dave" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:ask}/replies" with body '{"text":"me"}'
    And the dispatcher runs
    And "dave" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 3 items
    And I remember the response field "notifications.0.id" as "seen"
    When "dave" sends POST "/v1/me/notifications/{seen}/read"
    Then the response status is 200
    When the dispatcher runs until "dave" received 3 emails
    Then the last email to "dave" has subject "2 new notifications in acme"
    And the last email to "dave" says '- bob mentioned you in #general: @dave first'
    And the last email to "dave" says '- bob mentioned you in #general: @dave second'
    And the last email to "dave" does not say 'seen in the app'
    # Replies reach the inbox, not the mail, unless one asks for them.
    When "alice" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 1 item
    And the response field "notifications.0.kind" is "reply"
    When the dispatcher runs for 2 seconds
    Then "dave" received 3 emails
    And "alice" received 1 email

  Scenario: People choose per kind and channel what reaches them
    When "dave" sends GET "/v1/me/notification-preferences"
    Then the response status is 200
    And the response field "mention" is '{"inbox":true,"email":true}'
    And the response field "reply" is '{"inbox":true,"email":false}'
    And the response field "quiet_hours" is null
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"email":false},"reply":{"email":true}}'
    Then the response status is 200
    And the response field "mention" is '{"inbox":true,"email":false}'
    And the response field "reply" is '{"inbox":true,"email":true}'
    When "alice" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"inbox":false}}'
    Then the response status is 200
    When "dave" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"dave asks"}'
    Then I remember the response field "id" as "thread"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> <@{user:alice}> hi"}'
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{thread}/replies" with body '{"text":"agreed"}'
    And the dispatcher runs until "dave" received 3 emails
    And the dispatcher runs until "alice" received 2 emails
    Then the last email to "dave" has subject "bob replied to your thread in #general"
    And the last email to "alice" has subject "bob mentioned you in #general"
    When the dispatcher runs for 2 seconds
    Then "dave" received 3 emails
    And "alice" received 2 emails
    When "alice" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 0 items
    When "dave" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 2 items

  Scenario: Quiet hours hold the mail until they end or change
    When "dave" sets quiet hours around now
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> late night question"}'
    And the dispatcher runs for 3 seconds
    Then "dave" received 2 emails
    When "dave" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 1 item
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"quiet_hours":null}'
    Then the response status is 200
    And the response field "quiet_hours" is null
    When the dispatcher runs until "dave" received 3 emails
    Then the last email to "dave" says 'late night question'

  Scenario: Bad preferences are refused, name the problem and change nothing
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"reply":{"email":true},"quiet_hours":{"start":"22:00","end":"07:30","utc_offset_minutes":60}}'
    Then the response status is 200
    And the response field "quiet_hours" is '{"start":"22:00","end":"07:30","utc_offset_minutes":60}'
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"email":false},"quiet_hours":{"start":"25:00","end":"07:00","utc_offset_minutes":0}}'
    Then the response status is 400
    And the error message mentions "quiet_hours.start"
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"email":false},"quiet_hours":{"start":"07:00","end":"07:00","utc_offset_minutes":0}}'
    Then the response status is 400
    And the error message mentions "another time"
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"email":false},"quiet_hours":{"start":"07:00","end":"08:00","utc_offset_minutes":900}}'
    Then the response status is 400
    And the error message mentions "utc_offset_minutes"
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"sms":{"email":true}}'
    Then the response status is 400
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"mention":{"email":"yes"}}'
    Then the response status is 400
    When "dave" sends GET "/v1/me/notification-preferences"
    Then the response field "mention" is '{"inbox":true,"email":true}'
    And the response field "reply" is '{"inbox":true,"email":true}'
    And the response field "quiet_hours" is '{"start":"22:00","end":"07:30","utc_offset_minutes":60}'
    When "dave" sends PATCH "/v1/me/notification-preferences" with body '{"quiet_hours":null}'
    Then the response field "quiet_hours" is null
    And the response field "reply" is '{"inbox":true,"email":true}'

  Scenario: Workspace admins reword the mail; a bad template names every problem and changes nothing
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/notification-templates"
    Then the response status is 200
    And the response list "templates" has 3 items
    And the response field "templates.0.name" is "mention"
    And the response field "templates.0.custom" is false
    And the response field "templates.2.name" is "digest"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/notification-templates/mention" with body '{"subject":"{{author_name}} pinged you in {{channel_name}}","text":"{{text}} -- {{link}}","html":"<p>{{text}}</p>"}'
    Then the response status is 200
    And the response field "custom" is true
    And the response field "updated_by" is the id of "alice"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/notification-templates/mention" with body '{"subject":"{{nope}}","text":"{{#items}}","html":""}'
    Then the response status is 400
    And the error message mentions "unknown variable `{{nope}}`"
    And the error message mentions "unknown section `{{#items}}`"
    When "dave" sends PUT "/v1/workspaces/{workspace:acme}/notification-templates/mention" with body '{"subject":"mine","text":"mine"}'
    Then the response status is 403
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/notification-templates"
    Then the response status is 404
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/notification-templates/weekly" with body '{"subject":"x","text":"y"}'
    Then the response status is 404
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/notification-templates"
    Then the response field "templates.0.subject" is "{{author_name}} pinged you in {{channel_name}}"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:dave}> <b>look</b>"}'
    And the dispatcher runs until "dave" received 3 emails
    Then the last email to "dave" has subject "bob pinged you in general"
    And the last email to "dave" says '@dave <b>look</b> -- http'
    And the HTML of the last email to "dave" contains '<p>@dave &lt;b&gt;look&lt;/b&gt;</p>'
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/notification-templates/mention"
    Then the response status is 200
    And the response field "custom" is false
    And the response field "subject" is "{{author_name}} mentioned you in #{{channel_name}}"
