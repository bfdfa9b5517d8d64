Feature: Threads, edits, deletions and reactions
  Members reply to a message in its thread, react with emoji, and edit or
  delete what they wrote; owners and admins may delete anyone's message.
  A refused change leaves the message as it was.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "carol" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    And "bob" has posted "shall we ship on friday?" to channel "general" as "plan"

  Scenario: A reply goes to the thread, not the channel, and counts on its first message
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies" with body '{"text":"yes"}'
    Then the response status is 201
    And the response field "parent_id" is "{message:plan}"
    And the response field "text" is "yes"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response list "messages" has 1 item
    And the response field "messages.0.id" is "{message:plan}"
    And the response field "messages.0.reply_count" is 1
    And the response field "messages.0.parent_id" is null
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies"
    Then the response status is 200
    And the response list "messages" has 1 item
    And the response field "messages.0.text" is "yes"
    And the response field "messages.0.author_id" is the id of "alice"

  Scenario: Threads are paged newest first like channels
    Given "alice" has replied 5 times to "plan" in channel "general"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies?limit=3"
    Then the response list "messages" has 3 items
    And the response field "messages.0.text" is "reply 4"
    And I remember the response field "next_cursor" as "cursor"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies?limit=3&before={cursor}"
    Then the response list "messages" has 2 items
    And the response field "messages.1.text" is "reply 0"
    And the response field "next_cursor" is null

  Scenario: Threads are one level deep, and only under messages that are there
    Given "alice" has replied 1 time to "plan" in channel "general"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies"
    Then I remember the response field "messages.0.id" as "reply"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{reply}/replies" with body '{"text":"deeper"}'
    Then the response status is 404
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/msg_999999/replies" with body '{"text":"anyone?"}'
    Then the response status is 404
    And the error code is "not_found"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response field "reply_count" is 1

  Scenario: The author edits a message; nobody else can
    When "carol" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"we ship today"}'
    Then the response status is 403
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"we ship today"}'
    Then the response status is 403
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"   "}'
    Then the response status is 400
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response field "text" is "shall we ship on friday?"
    And the response field "edited_at" is null
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"shall we ship on monday?"}'
    Then the response status is 200
    And the response field "text" is "shall we ship on monday?"
    And the response has a string field "edited_at"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response field "messages.0.text" is "shall we ship on monday?"

  Scenario: The author deletes a message; it keeps its place and thread, without text or reactions
    Given "alice" has replied 1 time to "plan" in channel "general"
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    And "carol" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response status is 403
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response field "deleted" is false
    And the response field "text" is "shall we ship on friday?"
    And the response list "reactions" has 1 item
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response status is 204
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response list "messages" has 1 item
    And the response field "messages.0.deleted" is true
    And the response field "messages.0.text" is ""
    And the response list "messages.0.reactions" has 0 items
    And the response field "messages.0.reply_count" is 1
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies"
    Then the response list "messages" has 1 item
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response status is 404
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"undo"}'
    Then the response status is 404
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies" with body '{"text":"late"}'
    Then the response status is 404
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%8E%89"
    Then the response status is 404

  Scenario: Owners and admins may delete anyone's message
    Given "bob" has posted "spam" to channel "general" as "spam"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:spam}"
    Then the response status is 204
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response field "entries.0.action" is "message.delete"
    And the response field "entries.0.target" is "{message:spam}"
    And the response field "entries.0.actor" is "{user:alice}"

  Scenario: Reactions are counted once per person and emoji, in the order given
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    Then the response status is 200
    And the response field "reactions.0.emoji" is "👍"
    And the response field "reactions.0.count" is 1
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    And "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    And "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/:tada:"
    Then the response status is 200
    And the response list "reactions" has 2 items
    And the response field "reactions.0.count" is 2
    And the response field "reactions.0.user_ids.0" is "{user:carol}"
    And the response field "reactions.0.user_ids.1" is "{user:alice}"
    And the response field "reactions.1.emoji" is ":tada:"
    When "carol" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    Then the response status is 200
    And the response field "reactions.0.count" is 1
    And the response field "reactions.0.user_ids.0" is "{user:alice}"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response list "messages.0.reactions" has 2 items

  Scenario: Bad reactions and outsiders change nothing
    Given "dave" has signed up
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/hello"
    Then the response status is 400
    And the error code is "invalid_input"
    When "dave" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    Then the response status is 404
    When "dave" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response status is 404
    When "dave" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response status is 404
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response list "reactions" has 0 items
    And the response field "deleted" is false

  Scenario: One person leaves at most 20 different reactions on a message
    Given "carol" has reacted to "plan" in channel "general" with 20 different short codes
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/:one-too-many:"
    Then the response status is 409
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/:code-3:"
    Then the response status is 200
    And the response list "reactions" has 20 items

  Scenario: A message is only reachable through its own workspace and channel
    Given "alice" has created channel "random" in workspace "acme"
    And "carol" has created workspace "other"
    And "carol" has created channel "lobby" in workspace "other"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:random}/messages/{message:plan}"
    Then the response status is 404
    When "carol" sends PATCH "/v1/workspaces/{workspace:other}/channels/{channel:lobby}/messages/{message:plan}" with body '{"text":"hijacked"}'
    Then the response status is 404
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response field "text" is "shall we ship on friday?"

  Scenario: Edits and deletions are in the audit trail
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"monday"}'
    And "carol" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    And "alice" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response field "entries.0.action" is "message.delete"
    And the response field "entries.0.outcome" is "refused"
    And the response field "entries.0.actor" is "{user:carol}"
    And the response field "entries.1.action" is "message.edit"
    And the response field "entries.1.target" is "{message:plan}"
    And the response field "entries.1.outcome" is "success"

  Scenario: A mention lists the message in the member's mentions until it is edited away or deleted
    Given "dave" has signed up
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:carol}> and <@{user:dave}>, can you review? cc <@{user:bob}>"}'
    Then the response status is 201
    And I remember the response field "id" as "review"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response status is 200
    And the response list "messages" has 1 item
    And the response field "messages.0.id" is the remembered "review"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 0 items
    When "dave" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response status is 404
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{review}" with body '{"text":"<@{user:alice}>, can you review?"}'
    And "carol" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 0 items
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 1 item
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{review}"
    And "alice" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 0 items

  Scenario: Members are mentioned by display name too, and an address is not a mention
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"@Carol and @ALICE: not @car, nor mail@carol.example"}'
    Then the response status is 201
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 1 item
    And the response field "messages.0.text" is "@Carol and @ALICE: not @car, nor mail@carol.example"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 1 item
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"@bob talking to myself, cc @car"}'
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/mentions"
    Then the response list "messages" has 0 items

  Scenario: Mentions are paged, and a message mentions at most 20 people
    Given "bob" has mentioned "carol" 3 times in channel "general"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/mentions?limit=2"
    Then the response list "messages" has 2 items
    And I remember the response field "next_cursor" as "cursor"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/mentions?limit=2&before={cursor}"
    Then the response list "messages" has 1 item
    And the response field "next_cursor" is null
    When "bob" posts a message mentioning 21 people to channel "general"
    Then the response status is 400
    And the error code is "invalid_input"

  Scenario: Reactions sent at once are each counted once
    When "alice,bob,carol" each send PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D" 4 times at once
    Then all 12 responses have status 200
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response list "reactions" has 1 item
    And the response field "reactions.0.count" is 3
    When "alice,bob,carol" each send DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D" 3 times at once
    Then all 9 responses have status 200
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then the response list "reactions" has 0 items
