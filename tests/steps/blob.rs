//! Steps of the blob-store conformance suite: bytes go in through the blob
//! probe (`tests/probes/blob-probe`) and must come back exactly.

use cucumber::{then, when};

use super::KeelWorld;
use super::http::read_reply;

/// `size` bytes that differ from key to key and from offset to offset (a
/// chunk stored at the wrong place or twice cannot read back the same).
pub fn pattern(key: &str, size: usize) -> Vec<u8> {
    let seed = key.bytes().fold(17u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte)));
    (0..size as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8).collect()
}

impl KeelWorld {
    async fn probe_bytes(&mut self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> (u16, Vec<u8>) {
        let mut request = self.client.request(method, format!("{}{path}", self.server().base));
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("response body").to_vec())
    }

    /// Send `body` to the probe and keep its JSON reply.
    async fn send_bytes(&mut self, method: &str, path: &str, body: Vec<u8>) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let request = self.client.request(method, format!("{}{path}", self.server().base)).body(body);
        let reply = read_reply(request.send().await.expect("request sent")).await;
        self.reply = Some(reply);
    }

    /// The bytes `key` should hold.
    fn expected_blob(&self, key: &str) -> Vec<u8> {
        self.blobs.get(key).unwrap_or_else(|| panic!("nothing was stored under {key:?} in this scenario")).clone()
    }
}

#[when(expr = "{int} bytes are stored under {string} in writes of {int} bytes")]
async fn store(world: &mut KeelWorld, size: usize, key: String, writes: usize) {
    let bytes = pattern(&key, size);
    let path = format!("/blobs/{key}?chunk={writes}");
    world.send_bytes("PUT", &path, bytes.clone()).await;
    assert_eq!(world.reply().status, 200, "storing {size} bytes under {key:?}: {:?}", world.reply().body);
    assert_eq!(world.reply().body["size"], size, "the size the store reported");
    world.blobs.insert(key, bytes);
}

#[when(expr = "storing {int} bytes under {string} in writes of {int} bytes fails with status {int}")]
async fn store_fails(world: &mut KeelWorld, size: usize, key: String, writes: usize, status: u16) {
    world.send_bytes("PUT", &format!("/blobs/{key}?chunk={writes}"), pattern(&key, size)).await;
    assert_eq!(world.reply().status, status, "{:?}", world.reply().body);
}

#[when(expr = "{int} bytes are written under {string} without finishing")]
async fn abandon(world: &mut KeelWorld, size: usize, key: String) {
    world.send_bytes("PUT", &format!("/abandoned/{key}"), pattern("abandoned", size)).await;
    assert_eq!(world.reply().status, 200, "{:?}", world.reply().body);
}

#[then(expr = "{string} reads back whole")]
async fn reads_whole(world: &mut KeelWorld, key: String) {
    let expected = world.expected_blob(&key);
    let (status, bytes) = world.probe_bytes(reqwest::Method::GET, &format!("/blobs/{key}"), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(bytes.len(), expected.len(), "length of {key:?}");
    assert!(bytes == expected, "the bytes of {key:?} differ from what was stored");
    world.send(None, "GET", &format!("/size/{key}"), None).await;
    assert_eq!(world.reply().body["size"], expected.len(), "size of {key:?}");
}

#[then(expr = "reading {int} bytes of {string} from offset {int} gives {int} bytes")]
async fn reads_range(world: &mut KeelWorld, length: usize, key: String, offset: usize, count: usize) {
    let expected = world.expected_blob(&key);
    let path = format!("/blobs/{key}?offset={offset}&length={length}");
    let (status, bytes) = world.probe_bytes(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(bytes.len(), count, "bytes read");
    let start = offset.min(expected.len());
    assert!(bytes == expected[start..start + count], "the bytes read differ from those stored there");
}
