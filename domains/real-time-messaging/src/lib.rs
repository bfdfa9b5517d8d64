//! `keel:domains/real-time-messaging`: members follow a workspace's events
//! as they happen.
//!
//! Subscriptions read the event log (`keel:repositories/events`), so an
//! event any process sharing the database recorded reaches every
//! subscriber, on Spin as on Keel's runtime. Within one instance the
//! subscriptions share what is read of the log, the [`Hub`], and are
//! waited for together through a [`Feed`]: while it waits, the log is read
//! every [`POLL_INTERVAL`] and each read hands every subscription its
//! events, so an instance holding a thousand streams makes one query and
//! one wake-up per interval, not a thousand. A subscription that resumes
//! after an event id, or that fell behind the hub's window, first reads
//! its workspace's events from the log itself.
//!
//! PostgreSQL and MySQL number a row when it is inserted, not when it
//! commits, so a reader may see event 11 before event 10 commits: the hub
//! keeps such gaps open for [`GAP_WAIT_MS`] and reads from the oldest open
//! one, delivering a late event once.
//!
//! Authorization: `subscribe` needs the `message-read` permission in the
//! workspace (and the channel to be the workspace's). A subscription ends
//! (`forbidden`) once it has delivered a `member-removed` event about its
//! subscriber, and when a membership check every [`RECHECK_MS`] finds them
//! gone.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use exports::keel::domains::real_time_messaging::{
    Delivery, Error, Event, Guest, GuestFeed, GuestSubscription, Kind as EventKind,
};
use keel::platform::security_context::{self, Permission};
use keel::repositories::{channels, workspaces};
use keel_guest::clock;
use keel_guest::events::{self, Kind};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/real-time-messaging-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:repositories/events@0.1.0": keel_guest::events::bindings::keel::repositories::events },
    generate_all,
});

/// How often the hub reads the log while someone waits.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long after a read is due the other waiting tasks look at the hub.
const READ_GRACE: Duration = Duration::from_millis(8);
/// The most events one read of the log asks for.
const READ_BATCH: u32 = 500;
/// The largest read the event repository answers.
const MAX_READ: u32 = 1000;
/// Events the hub keeps for subscriptions that have not caught up yet.
const WINDOW: usize = 2048;
/// How long a gap in the log's numbering is waited for.
const GAP_WAIT_MS: i64 = 2_000;
/// A jump in numbering larger than this is not a gap to wait for (a
/// sequence that skipped ahead).
const MAX_GAP: u64 = 64;
/// The most events one `next` returns.
const PAGE: usize = 100;
/// The longest one `next` waits.
const MAX_WAIT_MS: u32 = 60_000;
/// How often a subscription checks that its subscriber is still a member.
const RECHECK_MS: i64 = 30_000;

thread_local! {
    static HUB: RefCell<Hub> = RefCell::new(Hub::default());
}

struct RealTimeMessaging;

impl Guest for RealTimeMessaging {
    type Subscription = Subscription;
    type Feed = Feed;

    fn new_feed() -> exports::keel::domains::real_time_messaging::Feed {
        exports::keel::domains::real_time_messaging::Feed::new(Feed { subscriptions: RefCell::new(BTreeMap::new()) })
    }

    async fn subscribe(
        actor_id: String,
        workspace_id: String,
        channel_id: Option<String>,
        after: Option<String>,
    ) -> Result<exports::keel::domains::real_time_messaging::Subscription, Error> {
        let after = match after {
            None => None,
            Some(id) => Some(id.parse::<u64>().map_err(|_| Error::InvalidInput(format!("{id:?} is not an event id")))?),
        };
        check_member(&actor_id, &workspace_id).await?;
        if let Some(channel_id) = &channel_id {
            channels::get(workspace_id.clone(), channel_id.clone())
                .await
                .map_err(|err| keel_guest::repository_error!(err, channels => Error, "channel not found"))?;
        }
        if HUB.with_borrow(|hub| hub.high_water.is_none()) {
            let latest = events::latest().await.map_err(event_error)?;
            HUB.with_borrow_mut(|hub| _ = *hub.high_water.get_or_insert(latest));
        }
        let (position, now_at) = HUB.with_borrow(|hub| (hub.end(), hub.high_water.unwrap_or(0)));
        // A client may have seen events this instance has not read yet
        // (from another process): the hub's copies of those are skipped. An
        // id past the log's end skips nothing beyond it.
        let seen_through = match after {
            Some(after) if after > now_at => after.min(events::latest().await.map_err(event_error)?),
            _ => 0,
        };
        let replay =
            after.filter(|after| *after < now_at).map(|after| Replay { after, until: now_at, delivered: Vec::new() });
        Ok(exports::keel::domains::real_time_messaging::Subscription::new(Subscription {
            actor_id,
            workspace_id,
            channel_id,
            position: Cell::new(position),
            last_seq: Cell::new(after.unwrap_or(now_at).min(now_at)),
            replay: RefCell::new(replay),
            seen_through,
            ended: Cell::new(false),
            checked_at: Cell::new(clock::now_ms()),
        }))
    }
}

/// One member's subscription.
pub struct Subscription {
    actor_id: String,
    workspace_id: String,
    channel_id: Option<String>,
    /// The next hub position to read.
    position: Cell<u64>,
    /// The last event delivered (or where the subscription started).
    last_seq: Cell<u64>,
    /// Events to read from the log before the hub's.
    replay: RefCell<Option<Replay>>,
    /// Events up to this one the client saw before subscribing.
    seen_through: u64,
    /// The subscriber is no longer a member.
    ended: Cell<bool>,
    checked_at: Cell<i64>,
}

/// Reading the log for the events after `after`, up to `until` (where the
/// hub took over).
struct Replay {
    after: u64,
    until: u64,
    /// Events delivered by the replay that the hub may still bring late
    /// (those within [`MAX_GAP`] of `until`).
    delivered: Vec<u64>,
}

impl GuestSubscription for Subscription {}

/// Subscriptions waited for together by one task.
pub struct Feed {
    subscriptions: RefCell<BTreeMap<u64, Rc<Subscription>>>,
}

impl GuestFeed for Feed {
    fn add(&self, key: u64, subscription: exports::keel::domains::real_time_messaging::Subscription) {
        self.subscriptions.borrow_mut().insert(key, Rc::new(subscription.into_inner::<Subscription>()));
    }

    fn remove(&self, key: u64) {
        self.subscriptions.borrow_mut().remove(&key);
    }

    async fn next(&self, wait_ms: u32) -> Result<Vec<Delivery>, Error> {
        let deadline = clock::now_ms() + i64::from(wait_ms.min(MAX_WAIT_MS));
        loop {
            let now = clock::now_ms();
            // A copy of the list: a `take` may wait (a replay, a membership
            // check) while the caller adds or removes subscriptions.
            let subscriptions: Vec<(u64, Rc<Subscription>)> =
                self.subscriptions.borrow().iter().map(|(key, subscription)| (*key, subscription.clone())).collect();
            if subscriptions.is_empty() {
                // Nothing to wait for: the caller's streams have all gone.
                return Ok(Vec::new());
            }
            let mut deliveries = Vec::new();
            for (key, subscription) in subscriptions {
                let events = subscription.take(now).await;
                if events.as_ref().is_ok_and(Vec::is_empty) {
                    continue;
                }
                if events.is_err() {
                    self.subscriptions.borrow_mut().remove(&key);
                }
                deliveries.push(Delivery { key, events });
            }
            if !deliveries.is_empty() || clock::now_ms() >= deadline {
                return Ok(deliveries);
            }
            wait(deadline).await?;
        }
    }
}

impl Subscription {
    /// The events after those already delivered (at most [`PAGE`]),
    /// without waiting for new ones: `forbidden` once the subscriber is no
    /// longer a member (checked every [`RECHECK_MS`], `now` being the time
    /// in ms).
    async fn take(&self, now: i64) -> Result<Vec<Event>, Error> {
        if self.ended.get() {
            return Err(Error::Forbidden("you are no longer a member of this workspace".into()));
        }
        if now - self.checked_at.get() >= RECHECK_MS {
            self.checked_at.set(now);
            if let Err(err) = check_member(&self.actor_id, &self.workspace_id).await {
                self.ended.set(matches!(err, Error::NotFound(_) | Error::Forbidden(_)));
                return Err(err);
            }
        }
        loop {
            let replayed = self.replay().await?;
            if !replayed.is_empty() {
                return Ok(self.deliver(replayed));
            }
            let read = HUB.with_borrow(|hub| self.read_hub(hub));
            if !read.is_empty() {
                return Ok(self.deliver(read));
            }
            if !self.replaying() {
                return Ok(Vec::new());
            }
        }
    }

    /// The next events of an unfinished replay, read from the log.
    async fn replay(&self) -> Result<Vec<events::Event>, Error> {
        let Some((after, until)) =
            self.replay.borrow().as_ref().filter(|replay| replay.after < replay.until).map(|r| (r.after, r.until))
        else {
            return Ok(Vec::new());
        };
        let mut found =
            events::since_in_workspace(self.workspace_id.clone(), self.channel_id.clone(), after, PAGE as u32)
                .await
                .map_err(event_error)?;
        let complete = found.len() < PAGE || found.last().is_some_and(|event| event.seq >= until);
        found.retain(|event| event.seq <= until);
        if let Some(replay) = self.replay.borrow_mut().as_mut() {
            // Once complete, the hub covers what follows; the record stays
            // for its late-event check.
            replay.after = if complete { until } else { found.last().map_or(until, |event| event.seq) };
            replay.delivered.extend(found.iter().map(|event| event.seq).filter(|seq| seq + MAX_GAP > until));
        }
        Ok(found)
    }

    /// Whether events are still to be read from the log before the hub's.
    fn replaying(&self) -> bool {
        self.replay.borrow().as_ref().is_some_and(|replay| replay.after < replay.until)
    }

    /// The subscription's next events in the hub's window (at most
    /// [`PAGE`]); when it fell behind the window, a replay from its last
    /// event is set up instead.
    fn read_hub(&self, hub: &Hub) -> Vec<events::Event> {
        if self.replaying() {
            return Vec::new();
        }
        if self.position.get() < hub.first {
            let until = hub.high_water.unwrap_or(0);
            *self.replay.borrow_mut() = Some(Replay { after: self.last_seq.get(), until, delivered: Vec::new() });
            self.position.set(hub.end());
            return Vec::new();
        }
        if self.position.get() == hub.end() {
            return Vec::new();
        }
        let skip = (self.position.get() - hub.first) as usize;
        let mut found = Vec::new();
        let mut position = self.position.get();
        for event in hub.window.iter().skip(skip) {
            if found.len() == PAGE {
                break;
            }
            position += 1;
            if self.follows(event) && !self.replayed(event.seq) && event.seq > self.seen_through {
                found.push(event.clone());
            }
        }
        self.position.set(position);
        found
    }

    /// Whether the subscription delivers `event`.
    fn follows(&self, event: &events::Event) -> bool {
        event.workspace_id == self.workspace_id
            && match (&self.channel_id, &event.channel_id) {
                (Some(followed), Some(channel)) => followed == channel,
                _ => true,
            }
    }

    /// Whether the replay already delivered the event numbered `seq`.
    fn replayed(&self, seq: u64) -> bool {
        self.replay.borrow().as_ref().is_some_and(|replay| replay.delivered.contains(&seq))
    }

    /// `found` as delivered events, up to and including one that removes
    /// the subscriber (which ends the subscription).
    fn deliver(&self, found: Vec<events::Event>) -> Vec<Event> {
        let mut delivered = Vec::with_capacity(found.len());
        for event in found {
            self.last_seq.set(self.last_seq.get().max(event.seq));
            let removed = event.kind == Kind::MemberRemoved && event.subject_id == self.actor_id;
            delivered.push(Event {
                id: event.seq.to_string(),
                channel_id: event.channel_id,
                kind: kind(event.kind),
                subject_id: event.subject_id,
                actor_id: event.actor_id,
                created_at: event.created_at,
            });
            if removed {
                self.ended.set(true);
                break;
            }
        }
        delivered
    }
}

/// What one instance has read of the log, shared by its subscriptions.
#[derive(Default)]
struct Hub {
    /// Recent events in the order they were read; `window[0]` is at
    /// position `first`.
    window: VecDeque<events::Event>,
    first: u64,
    /// The highest `seq` read; none until the first subscription.
    high_water: Option<u64>,
    /// Numbers skipped by a read (an insert not committed yet, or rolled
    /// back) and when they were first missed.
    gaps: Vec<(u64, i64)>,
    /// Whether a task is reading the log.
    reading: bool,
    /// Whether a waiting task is elected to do the next read.
    elected: bool,
    last_read_ms: i64,
}

impl Hub {
    /// The position after the last event read.
    fn end(&self) -> u64 {
        self.first + self.window.len() as u64
    }

    /// Where the next read starts and how much it asks for.
    fn next_read(&self) -> (u64, u32) {
        let high = self.high_water.unwrap_or(0);
        match self.gaps.iter().map(|(seq, _)| *seq).min() {
            Some(oldest) => {
                let behind = u32::try_from(high - oldest + 1).unwrap_or(MAX_READ);
                (oldest - 1, behind.saturating_add(READ_BATCH).min(MAX_READ))
            }
            None => (high, READ_BATCH),
        }
    }

    /// Take in a read's events: new ones and late ones (filling a gap).
    fn absorb(&mut self, read: Vec<events::Event>, now: i64) {
        let mut high = self.high_water.unwrap_or(0);
        for event in read {
            if event.seq > high {
                let skipped = event.seq - high - 1;
                if skipped > 0 && skipped <= MAX_GAP {
                    self.gaps.extend((high + 1..event.seq).map(|seq| (seq, now)));
                }
                high = event.seq;
            } else if let Some(at) = self.gaps.iter().position(|(seq, _)| *seq == event.seq) {
                self.gaps.swap_remove(at);
            } else {
                continue;
            }
            self.window.push_back(event);
            if self.window.len() > WINDOW {
                self.window.pop_front();
                self.first += 1;
            }
        }
        self.high_water = Some(high);
        self.gaps.retain(|(_, missed)| now - missed < GAP_WAIT_MS);
        self.last_read_ms = now;
    }
}

/// Wait for the hub's next read (or until `deadline`, in ms), doing that
/// read if it is this task's turn.
///
/// One waiting task is elected to read the log when the next read is due;
/// any other (another feed of the instance) sleeps until [`READ_GRACE`]
/// after that and finds its events in the hub.
async fn wait(deadline: i64) -> Result<(), Error> {
    let now = clock::now_ms();
    let interval = POLL_INTERVAL.as_millis() as i64;
    let (read_now, elected, due_at) = HUB.with_borrow_mut(|hub| {
        let due_at = hub.last_read_ms + interval;
        let read_now = !hub.reading && now >= due_at;
        hub.reading |= read_now;
        let elected = !read_now && !hub.reading && !std::mem::replace(&mut hub.elected, true);
        (read_now, elected, due_at)
    });
    if read_now {
        let _reading = Reading;
        let (after, limit) = HUB.with_borrow(|hub| hub.next_read());
        let read = events::since(after, limit).await.map_err(event_error)?;
        let full = read.len() == limit as usize;
        HUB.with_borrow_mut(|hub| {
            hub.absorb(read, clock::now_ms());
            if full {
                // More to read: the next turn reads at once.
                hub.last_read_ms = 0;
            }
        });
        return Ok(());
    }
    let _elected = elected.then_some(Elected);
    let wake_at = if elected { due_at } else { due_at.max(now) + READ_GRACE.as_millis() as i64 };
    let wake_at = wake_at.min(deadline);
    spin_sdk::time::sleep(Duration::from_millis(u64::try_from(wake_at - now).unwrap_or(0))).await;
    Ok(())
}

/// The reader's turn, given back when the read ends (or is cancelled with
/// its request).
struct Reading;

impl Drop for Reading {
    fn drop(&mut self) {
        HUB.with_borrow_mut(|hub| hub.reading = false);
    }
}

/// The election of a waiting task as the next reader, given back when it
/// wakes (or its request ends).
struct Elected;

impl Drop for Elected {
    fn drop(&mut self) {
        HUB.with_borrow_mut(|hub| hub.elected = false);
    }
}

/// `Ok` if `actor_id` may read the workspace's messages.
async fn check_member(actor_id: &str, workspace_id: &str) -> Result<(), Error> {
    keel_guest::authorize_member!(workspaces, security_context => Error, actor_id, workspace_id, Permission::MessageRead)
        .await
        .map(|_| ())
}

fn kind(kind: Kind) -> EventKind {
    match kind {
        Kind::MessageCreated => EventKind::MessageCreated,
        Kind::MessageUpdated => EventKind::MessageUpdated,
        Kind::MessageDeleted => EventKind::MessageDeleted,
        Kind::ReactionAdded => EventKind::ReactionAdded,
        Kind::ReactionRemoved => EventKind::ReactionRemoved,
        Kind::MemberJoined => EventKind::MemberJoined,
        Kind::MemberRemoved => EventKind::MemberRemoved,
        Kind::FileShared => EventKind::FileShared,
        Kind::FileUpdated => EventKind::FileUpdated,
        Kind::FileDeleted => EventKind::FileDeleted,
    }
}

fn event_error(err: events::Error) -> Error {
    match err {
        events::Error::InvalidInput(message) => Error::InvalidInput(message),
        events::Error::Unavailable(message) => Error::Unavailable(message),
        events::Error::Conflict(message) | events::Error::Internal(message) => Error::Internal(message),
    }
}

export!(RealTimeMessaging);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> events::Event {
        events::Event {
            seq,
            workspace_id: "wsp_1".into(),
            channel_id: Some("chn_1".into()),
            kind: Kind::MessageCreated,
            subject_id: format!("msg_{seq}"),
            actor_id: "usr_1".into(),
            created_at: 0,
        }
    }

    fn seqs(hub: &Hub) -> Vec<u64> {
        hub.window.iter().map(|event| event.seq).collect()
    }

    #[test]
    fn a_late_commit_is_delivered_once_and_its_gap_closed() {
        let mut hub = Hub { high_water: Some(0), ..Hub::default() };
        hub.absorb(vec![event(1), event(2), event(4)], 1_000);
        assert_eq!(seqs(&hub), [1, 2, 4]);
        // The next read goes back to just before the gap, far enough to
        // cover what was read since.
        assert_eq!(hub.next_read(), (2, 2 + READ_BATCH));
        hub.absorb(vec![event(3), event(4), event(5)], 1_050);
        assert_eq!(seqs(&hub), [1, 2, 4, 3, 5]);
        assert!(hub.gaps.is_empty());
        assert_eq!(hub.next_read(), (5, READ_BATCH));
    }

    #[test]
    fn a_gap_that_never_fills_is_given_up_after_a_while() {
        let mut hub = Hub { high_water: Some(0), ..Hub::default() };
        hub.absorb(vec![event(1), event(3)], 1_000);
        hub.absorb(Vec::new(), 1_000 + GAP_WAIT_MS - 1);
        assert_eq!(hub.next_read().0, 1);
        hub.absorb(Vec::new(), 1_000 + GAP_WAIT_MS);
        assert_eq!(hub.next_read(), (3, READ_BATCH));
    }

    #[test]
    fn a_jump_in_numbering_is_not_waited_for() {
        let mut hub = Hub { high_water: Some(10), ..Hub::default() };
        hub.absorb(vec![event(11 + MAX_GAP + 1)], 1_000);
        assert!(hub.gaps.is_empty());
        assert_eq!(hub.next_read(), (11 + MAX_GAP + 1, READ_BATCH));
    }

    #[test]
    fn the_window_keeps_the_latest_events_and_counts_positions_on() {
        let mut hub = Hub { high_water: Some(0), ..Hub::default() };
        hub.absorb((1..=WINDOW as u64 + 3).map(event).collect(), 1_000);
        assert_eq!(hub.window.len(), WINDOW);
        assert_eq!(hub.first, 3);
        assert_eq!(hub.end(), WINDOW as u64 + 3);
        assert_eq!(hub.window.front().map(|event| event.seq), Some(4));
    }
}
