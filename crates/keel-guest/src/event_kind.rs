//! The kinds of events the event log records, by the names they are
//! stored and published under (`message.created`, …).

/// What happened, as stored in `events.kind` and named to webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    MemberJoined,
    MemberRemoved,
    FileShared,
    /// A new version of a file.
    FileUpdated,
    FileDeleted,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 10] = [
        Kind::MessageCreated,
        Kind::MessageUpdated,
        Kind::MessageDeleted,
        Kind::ReactionAdded,
        Kind::ReactionRemoved,
        Kind::MemberJoined,
        Kind::MemberRemoved,
        Kind::FileShared,
        Kind::FileUpdated,
        Kind::FileDeleted,
    ];

    /// The stored (and published) name, such as `message.created`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::MessageCreated => "message.created",
            Kind::MessageUpdated => "message.updated",
            Kind::MessageDeleted => "message.deleted",
            Kind::ReactionAdded => "reaction.added",
            Kind::ReactionRemoved => "reaction.removed",
            Kind::MemberJoined => "member.joined",
            Kind::MemberRemoved => "member.removed",
            Kind::FileShared => "file.shared",
            Kind::FileUpdated => "file.updated",
            Kind::FileDeleted => "file.deleted",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn every_kind_name_parses_back() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
        assert_eq!(Kind::parse("message.exploded"), None);
    }
}
