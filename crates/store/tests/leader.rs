//! The leader lease and fencing, on both backends: one leader at a time, a
//! new epoch for each new leader, and a lease that, once ended, can only be
//! taken again, never silently renewed.

use std::time::Duration;

use tandem_store::{LeaseStore, PgStore, SqliteStore};

/// Runs `check` on a fresh SQLite store and a fresh PostgreSQL database.
fn on_both(check: impl Fn(&dyn LeaseStore)) {
    let sqlite = SqliteStore::open_in_memory().expect("sqlite");
    check(&sqlite);
    let db = tandem_store::testing::database();
    let pg = PgStore::open(db.url(), None).expect("postgres");
    check(&pg);
}

#[test]
fn one_leader_at_a_time_and_each_new_leader_gets_a_new_epoch() {
    on_both(|store| {
        let ttl = Duration::from_millis(400);
        assert_eq!(
            store.leader().expect("leader"),
            None,
            "no one leads at first"
        );
        let first = store.lead("a", ttl).expect("lead").expect("a leads");
        assert_eq!(store.lead("b", ttl).expect("lead"), None, "b must wait");
        assert_eq!(
            store.lead("a", ttl).expect("renew"),
            Some(first),
            "renewal keeps the epoch"
        );
        let leader = store.leader().expect("leader").expect("someone leads");
        assert_eq!((leader.holder.as_str(), leader.epoch), ("a", first));

        std::thread::sleep(Duration::from_millis(500));
        let second = store
            .lead("b", ttl)
            .expect("lead")
            .expect("b leads after a's lease");
        assert_eq!(second, first + 1);
        assert_eq!(store.lead("a", ttl).expect("lead"), None, "a was deposed");

        store
            .resign("a")
            .expect("resigning what one does not hold is harmless");
        assert_eq!(
            store.leader().expect("leader").map(|l| l.holder),
            Some("b".into())
        );
        store.resign("b").expect("resign");
        assert_eq!(store.leader().expect("leader"), None);
        let third = store.lead("a", ttl).expect("lead").expect("a leads again");
        assert_eq!(third, second + 1, "a returning leader is a new leader");
    });
}

#[test]
fn an_ended_lease_is_not_renewed_by_its_old_owner() {
    on_both(|store| {
        let ttl = Duration::from_millis(300);
        assert!(store.try_lease("drain:c:P", "a", ttl).expect("take"));
        assert!(
            store.hold_lease("drain:c:P", "a", ttl).expect("hold"),
            "held and renewed"
        );
        assert!(
            !store.try_lease("drain:c:P", "b", ttl).expect("take"),
            "b must wait"
        );
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            !store.hold_lease("drain:c:P", "a", ttl).expect("hold"),
            "an ended lease is fenced, not renewed"
        );
        assert!(
            store.try_lease("drain:c:P", "b", ttl).expect("take"),
            "b takes it"
        );
        assert!(!store.hold_lease("drain:c:P", "a", ttl).expect("hold"));
        assert!(store.hold_lease("drain:c:P", "b", ttl).expect("hold"));
        let leases = store.leases().expect("leases");
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].1, "b");
        store.release_lease("drain:c:P", "b").expect("release");
        assert!(store.leases().expect("leases").is_empty());
    });
}
