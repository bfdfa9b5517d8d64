Feature: keel:infrastructure/blob-store conformance
  Every blob-store adapter runs this suite through the blob probe, so they
  are interchangeable: bytes come back exactly as written, whatever the
  size of the writes and reads, and a blob is readable only once complete.

  Background:
    Given a running blob-store implementation

  Scenario Outline: Blobs of every size come back byte for byte
    When <size> bytes are stored under "files/<size>" in writes of <writes> bytes
    Then "files/<size>" reads back whole

    Examples:
      | size    | writes  |
      | 0       | 1000    |
      | 1       | 1       |
      | 262143  | 65536   |
      | 262144  | 262144  |
      | 262145  | 100000  |
      | 3145745 | 8388608 |
      | 700001  | 7       |
      | 17825793 | 1048576 |

  Scenario: Ranged reads cut across chunks and stop at the end
    When 600000 bytes are stored under "docs/ranged" in writes of 65536 bytes
    Then reading 10 bytes of "docs/ranged" from offset 0 gives 10 bytes
    And reading 1000 bytes of "docs/ranged" from offset 262000 gives 1000 bytes
    And reading 300000 bytes of "docs/ranged" from offset 250000 gives 300000 bytes
    And reading 1000 bytes of "docs/ranged" from offset 599500 gives 500 bytes
    And reading 1000 bytes of "docs/ranged" from offset 600000 gives 0 bytes
    And reading 1000 bytes of "docs/ranged" from offset 9999999 gives 0 bytes

  Scenario: Storing under a key again replaces the blob
    When 600000 bytes are stored under "docs/replaced" in writes of 65536 bytes
    And 10 bytes are stored under "docs/replaced" in writes of 10 bytes
    Then "docs/replaced" reads back whole

  Scenario: Keys that share a prefix are separate blobs
    When 300 bytes are stored under "a" in writes of 100 bytes
    And 400 bytes are stored under "a/b" in writes of 100 bytes
    And 500 bytes are stored under "ab" in writes of 100 bytes
    Then "a" reads back whole
    And "a/b" reads back whole
    And "ab" reads back whole

  Scenario: An upload that never finishes leaves nothing behind and changes nothing
    When 300000 bytes are written under "docs/never" without finishing
    And a client sends GET "/size/docs/never"
    Then the response status is 404
    And the response field "error.code" is "not_found"
    When 2000 bytes are stored under "docs/kept" in writes of 500 bytes
    And 300000 bytes are written under "docs/kept" without finishing
    Then "docs/kept" reads back whole

  Scenario: A finished upload takes no more writes
    When a client sends PUT "/twice/docs/once"
    Then the response field "write" is "upload_closed"
    And the response field "finish" is "upload_closed"
    When a client sends GET "/size/docs/once"
    Then the response field "size" is 4

  Scenario: Deleting removes the blob; deleting nothing is fine
    When 1000 bytes are stored under "docs/gone" in writes of 100 bytes
    And a client sends DELETE "/blobs/docs/gone"
    Then the response status is 204
    When a client sends GET "/blobs/docs/gone"
    Then the response status is 404
    And the response field "error.code" is "not_found"
    When a client sends GET "/size/docs/gone"
    Then the response status is 404
    When a client sends DELETE "/blobs/docs/gone"
    Then the response status is 204

  Scenario Outline: Keys outside the portable alphabet are refused
    When a client sends GET "/size/<key>"
    Then the response status is 400
    And the response field "error.code" is "invalid_input"

    Examples:
      | key       |
      | a%20b     |
      | a//b      |
      | docs/     |
      | caf%C3%A9 |

  Scenario: One read moves at most 8 MiB
    When 10 bytes are stored under "docs/small" in writes of 10 bytes
    And a client sends GET "/blobs/docs/small?offset=0&length=8388609"
    Then the response status is 400
    And the response field "error.code" is "invalid_input"

  @s3
  Scenario: A blob larger than a part goes up as one multipart upload
    When 17825793 bytes are stored under "docs/parts" in writes of 1048576 bytes
    Then the mock S3 took 3 parts of one multipart upload, completed once
    And "docs/parts" reads back whole

  @s3
  Scenario: A failed multipart upload is aborted and leaves nothing
    Given the mock S3 fails every upload part from part 2 on
    When storing 17825793 bytes under "docs/failed" in writes of 1048576 bytes fails with status 503
    Then the mock S3 holds no unfinished multipart upload
    When a client sends GET "/size/docs/failed"
    Then the response status is 404
