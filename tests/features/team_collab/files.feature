Feature: Sharing files in channels
  Members share files in a channel: the upload streams in, its type is
  checked against its content, its SHA-256 is recorded, and members read it
  back byte for byte, whole or by ranges, in any version. Outsiders see
  nothing, and a refused upload leaves nothing behind.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "dave" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"

  Scenario: A shared file comes back byte for byte, with its details
    When "bob" uploads a pdf file of 3145745 bytes named "Quarterly report.pdf" to channel "general"
    Then the response status is 201
    And the response describes "Quarterly report.pdf" as uploaded
    And the response field "content_type" is "application/pdf"
    And the response field "version" is 1
    And the response field "created_by" is the id of "bob"
    And the response header "location" is "/v1/workspaces/{workspace:acme}/files/{file:Quarterly report.pdf}"
    When "alice" downloads "Quarterly report.pdf"
    Then the download is exactly what was uploaded as "Quarterly report.pdf"
    And the response header "content-type" is "application/pdf"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/files/{file:Quarterly report.pdf}"
    Then the response status is 200
    And the response describes "Quarterly report.pdf" as uploaded

  Scenario: Text keeps its declared kind; an empty file is a file
    When "alice" uploads a text file of 5000 bytes named "notes.csv" to channel "general" declared as "text/csv; charset=utf-8"
    Then the response status is 201
    And the response field "content_type" is "text/csv"
    When "alice" uploads a text file of 0 bytes named "empty.txt" to channel "general"
    Then the response status is 201
    And the response field "size" is 0
    When "bob" downloads "empty.txt"
    Then the download is exactly what was uploaded as "empty.txt"

  Scenario: Ranges, conditional requests and their refusals
    When "alice" uploads a png file of 600000 bytes named "diagram.png" to channel "general"
    And "bob" downloads "diagram.png" with header "range" set to "bytes=262140-262150"
    Then the response status is 206
    And the response header "content-range" is "bytes 262140-262150/600000"
    And the download holds bytes 262140 to 262150 of "diagram.png"
    When "bob" downloads "diagram.png" with header "range" set to "bytes=-10"
    Then the response status is 206
    And the download holds bytes 599990 to 599999 of "diagram.png"
    When "bob" downloads "diagram.png" with header "range" set to "bytes=600000-"
    Then the response status is 416
    And the response header "content-range" is "bytes */600000"
    And the response field "error.code" is "range_not_satisfiable"
    When "bob" downloads "diagram.png" with header "if-none-match" set to "{etag}"
    Then the response status is 304
    And the download is empty
    When "bob" downloads "diagram.png" with header "if-none-match" set to "\"stale\""
    Then the download is exactly what was uploaded as "diagram.png"

  Scenario: Images show inline for a preview; other files only download
    When "alice" uploads a png file of 2000 bytes named "photo.png" to channel "general"
    And "bob" downloads "photo.png" to show inline
    Then the response status is 200
    And the response header "content-disposition" contains "inline; filename="
    And the response header "content-disposition" contains "filename*=UTF-8''photo.png"
    And the response header "content-security-policy" is "default-src 'none'; sandbox"
    When "alice" uploads a pdf file of 2000 bytes named "doc.pdf" to channel "general"
    And "bob" downloads "doc.pdf" to show inline
    Then the response status is 400
    And the response field "error.code" is "invalid_input"

  Scenario: New versions keep the old ones readable
    When "alice" uploads a text file of 1000 bytes named "plan.md" to channel "general" declared as "text/markdown"
    And "bob" uploads a new version of "plan.md" as a text file of 2000 bytes
    Then the response status is 201
    And the response field "version" is 2
    And the response field "size" is 2000
    And the response field "created_by" is the id of "alice"
    And the response field "updated_by" is the id of "bob"
    When "alice" downloads "plan.md"
    Then the download is exactly what was uploaded as "plan.md"
    When "alice" downloads version 1 of "plan.md"
    Then the download is exactly the version of "plan.md" before the last
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/files/{file:plan.md}/versions"
    Then the response list "versions" has 2 items
    And the response field "versions.0.version" is 2
    And the response field "versions.1.uploaded_by" is the id of "alice"
    When "alice" downloads version 3 of "plan.md"
    Then the response status is 404

  Scenario Outline: Refused content leaves nothing behind
    When "bob" uploads a <kind> file of 2000 bytes named "<name>" to channel "general" declared as "<declared>"
    Then the response status is 415
    And the response field "error.code" is "unsupported_media_type"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files"
    Then the response list "files" has 0 items

    Examples:
      | kind | name         | declared                 |
      | html | page.html    | text/html                |
      | html | page.txt     | text/plain               |
      | exe  | setup.exe    | application/octet-stream |
      | pdf  | fake.png     | image/png                |

  Scenario: Only members see files; only the uploader or an admin deletes
    When "bob" uploads a zip file of 4000 bytes named "bundle.zip" to channel "general"
    And "dave" sends GET "/v1/workspaces/{workspace:acme}/files/{file:bundle.zip}"
    Then the response status is 404
    When "dave" downloads "bundle.zip"
    Then the response status is 404
    When "dave" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files"
    Then the response status is 404
    When "dave" uploads a text file of 10 bytes named "intruder.txt" to channel "general"
    Then the response status is 404
    Given "alice" has added "dave" to workspace "acme" as "member"
    When "dave" sends DELETE "/v1/workspaces/{workspace:acme}/files/{file:bundle.zip}"
    Then the response status is 403
    When "dave" downloads "bundle.zip"
    Then the download is exactly what was uploaded as "bundle.zip"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/files/{file:bundle.zip}"
    Then the response status is 204
    When "bob" downloads "bundle.zip"
    Then the response status is 404
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files"
    Then the response list "files" has 0 items

  Scenario: A file id from another workspace is not found there
    Given "dave" has created workspace "globex"
    When "bob" uploads a text file of 100 bytes named "secret.txt" to channel "general"
    And "dave" sends GET "/v1/workspaces/{workspace:globex}/files/{file:secret.txt}"
    Then the response status is 404
    When "dave" sends GET "/v1/workspaces/{workspace:globex}/files/{file:secret.txt}/content"
    Then the response status is 404

  Scenario: Files are listed newest first, a page at a time
    When "alice" uploads a text file of 10 bytes named "one.txt" to channel "general"
    And "alice" uploads a text file of 20 bytes named "two.txt" to channel "general"
    And "alice" uploads a text file of 30 bytes named "three.txt" to channel "general"
    And "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files?limit=2"
    Then the response list "files" has 2 items
    And the response field "files.0.name" is "three.txt"
    And I remember the response field "next_cursor" as "cursor"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files?limit=2&before={cursor}"
    Then the response list "files" has 1 item
    And the response field "files.0.name" is "one.txt"
    And the response field "next_cursor" is null

  Scenario Outline: Bad file names are refused
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files<query>" with body '{}'
    Then the response status is 400
    And the response field "error.code" is "invalid_input"

    Examples:
      | query           |
      |                 |
      | ?name=          |
      | ?name=a%2Fb.txt |
      | ?name=..        |

  Scenario: Files shared in a channel are attached to a message
    When "bob" uploads a pdf file of 5000 bytes named "spec.pdf" to channel "general"
    And "bob" uploads a png file of 3000 bytes named "mock.png" to channel "general"
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"spec and mock attached","attachments":["{file:spec.pdf}","{file:mock.png}"]}'
    Then the response status is 201
    And the response list "attachments" has 2 items
    And the response field "attachments.0.file_id" is "{file:spec.pdf}"
    And the response field "attachments.0.name" is "spec.pdf"
    And the response field "attachments.0.content_type" is "application/pdf"
    And the response field "attachments.0.size" is 5000
    And the response field "attachments.1.name" is "mock.png"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response field "messages.0.attachments.1.file_id" is "{file:mock.png}"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages?limit=1"
    Then the response field "messages.0.text" is "spec and mock attached"
    And I remember the response field "messages.0.id" as "posted"
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{posted}"
    Then the response status is 204
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages?limit=1"
    Then the response list "messages.0.attachments" has 0 items

  Scenario: Only files of the same channel can be attached, each once, ten at most
    Given "alice" has created channel "random" in workspace "acme"
    When "bob" uploads a text file of 10 bytes named "elsewhere.txt" to channel "random"
    And "bob" uploads a text file of 10 bytes named "here.txt" to channel "general"
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"see","attachments":["{file:elsewhere.txt}"]}'
    Then the response status is 400
    And the response field "error.code" is "invalid_input"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"see","attachments":["doc_00000000000000000000000000000000"]}'
    Then the response status is 400
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"see","attachments":["{file:here.txt}","{file:here.txt}"]}'
    Then the response status is 400
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"see","attachments":["a","b","c","d","e","f","g","h","i","j","k"]}'
    Then the response status is 400
    And the error message mentions "at most 10"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response list "messages" has 0 items
