//! The hand-off: limits, losses, order, wake-ups.

use super::*;

#[test]
fn a_queue_slot_stays_small() {
    assert!(std::mem::size_of::<AuditMsg>() <= 64);
}

#[test]
fn by_default_bytes_bound_a_burst_of_small_reads() {
    // Reads of one 128-byte frame each, the auditor away: the queue takes
    // them until the byte limit, never stopped by the count first.
    let (mut h, inbox) = channel(DEFAULT_QUEUE_MESSAGES, DEFAULT_QUEUE_BYTES);
    let frame = Bytes::from(vec![b'x'; 128]);
    let at = Instant::now();
    let fits = DEFAULT_QUEUE_BYTES / frame.len();
    for _ in 0..fits {
        h.offer(Direction::ClientToServer, at, frame.clone());
    }
    assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 0);
    assert_eq!(inbox.pinned_bytes(), DEFAULT_QUEUE_BYTES);
    h.offer(Direction::ClientToServer, at, frame.clone());
    assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 1);
    assert_eq!(inbox.peak(), QueuePeak::default(), "nothing taken yet");
    inbox.try_recv();
    assert_eq!(
        inbox.peak(),
        QueuePeak {
            messages: fits,
            bytes: DEFAULT_QUEUE_BYTES
        }
    );
}

#[test]
fn a_read_buffer_tail_left_behind_counts_until_its_chunk_is_taken() {
    let (mut h, inbox) = channel(8, 100);
    let at = Instant::now();
    h.offer_pinning(
        Direction::ClientToServer,
        at,
        Bytes::from(vec![0u8; 40]),
        30,
    );
    assert_eq!(
        inbox.pinned_bytes(),
        70,
        "the chunk and the tail it carries"
    );
    h.offer_pinning(
        Direction::ClientToServer,
        at,
        Bytes::from(vec![0u8; 20]),
        20,
    );
    assert_eq!(
        h.stats().dropped_chunks.load(Ordering::Relaxed),
        1,
        "40 more do not fit"
    );
    assert_eq!(
        h.stats().dropped_bytes.load(Ordering::Relaxed),
        20,
        "the chunk's bytes, not the tail"
    );
    while inbox.try_recv().is_some() {}
    assert_eq!(inbox.pinned_bytes(), 0, "all of it released");
    // A tail over the limit is clipped to it: the chunk itself still fits.
    h.offer_pinning(
        Direction::ClientToServer,
        at,
        Bytes::from(vec![0u8; 10]),
        1000,
    );
    assert_eq!(inbox.pinned_bytes(), 100);
    assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 1);
}

#[test]
fn three_quarters_of_either_limit_is_high_water() {
    let (mut h, inbox) = channel(8, 400);
    let at = Instant::now();
    for _ in 0..5 {
        h.offer(Direction::ClientToServer, at, Bytes::from_static(b"x"));
    }
    assert!(!inbox.high_water(), "5 of 8 messages");
    h.offer(Direction::ClientToServer, at, Bytes::from_static(b"y"));
    assert!(inbox.high_water(), "6 of 8 messages");
    while inbox.try_recv().is_some() {}
    h.offer(Direction::ClientToServer, at, Bytes::from(vec![0u8; 299]));
    assert!(!inbox.high_water(), "299 of 400 bytes");
    h.offer(Direction::ClientToServer, at, Bytes::from_static(b"z"));
    assert!(inbox.high_water(), "300 of 400 bytes");
}

#[test]
fn a_small_fraction_of_either_limit_is_a_backlog() {
    let (mut h, inbox) = channel(2 * BACKLOG_FRACTION, 100 * BACKLOG_FRACTION);
    let at = Instant::now();
    h.offer(Direction::ClientToServer, at, Bytes::from_static(b"x"));
    assert!(!inbox.backlogged());
    h.offer(Direction::ClientToServer, at, Bytes::from_static(b"y"));
    assert!(inbox.backlogged(), "2 of 512 messages");
    while inbox.try_recv().is_some() {}
    h.offer(Direction::ClientToServer, at, Bytes::from(vec![0u8; 100]));
    assert!(inbox.backlogged(), "100 of 25600 bytes");
    while inbox.try_recv().is_some() {}
    assert!(!inbox.backlogged());
}

#[test]
fn drops_over_the_byte_limit_and_reports_with_next_chunk() {
    let (mut h, inbox) = channel(16, 10);
    let t = Instant::now();
    h.offer(Direction::ClientToServer, t, Bytes::from_static(b"123456"));
    h.offer(Direction::ClientToServer, t, Bytes::from_static(b"789012")); // 12 > 10
    match inbox.recv().unwrap() {
        AuditMsg::Chunk { lost_before, .. } => assert_eq!(lost_before, None),
        m => panic!("{m:?}"),
    }
    h.offer(Direction::ClientToServer, t, Bytes::from_static(b"ab"));
    match inbox.recv().unwrap() {
        AuditMsg::Chunk {
            lost_before, bytes, ..
        } => {
            assert_eq!(
                lost_before.as_deref(),
                Some(&Loss {
                    chunks: 1,
                    bytes: 6
                })
            );
            assert_eq!(&bytes[..], b"ab");
        }
        m => panic!("{m:?}"),
    }
    assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 1);
}

#[test]
fn the_level_counts_messages_and_bytes_apart_up_to_their_limits() {
    let most = Level::of(Level::MAX_BYTES);
    assert_eq!((most.messages(), most.bytes()), (1, Level::MAX_BYTES));
    // Every message at the limits, and as many racing offers again, do
    // not carry from the byte field into the message field.
    let full = (Level::MAX_MESSAGES as u64 * 2) * Level::of(0).0 + 2 * Level::MAX_BYTES as u64;
    let full = Level(full);
    assert_eq!(full.messages(), 2 * Level::MAX_MESSAGES);
    assert_eq!(full.bytes(), 2 * Level::MAX_BYTES);
    // Limits past the fields' ranges are clamped (unclamped, the
    // high-water check would overflow).
    let (mut h, inbox) = channel(usize::MAX, usize::MAX);
    assert_eq!(inbox.shared.max_messages, Level::MAX_MESSAGES);
    assert_eq!(inbox.shared.max_bytes, Level::MAX_BYTES);
    assert!(!inbox.high_water());
    h.offer(
        Direction::ClientToServer,
        Instant::now(),
        Bytes::from_static(b"abc"),
    );
    assert_eq!(inbox.pinned_bytes(), 3);
    assert!(!inbox.backlogged());
    inbox.try_recv().unwrap();
    assert_eq!(inbox.shared.level(), Level(0));
}

#[test]
fn drops_when_queue_is_full_without_blocking() {
    let (mut h, inbox) = channel(1, 1 << 20);
    let t = Instant::now();
    h.offer(Direction::ServerToClient, t, Bytes::from_static(b"a"));
    h.offer(Direction::ServerToClient, t, Bytes::from_static(b"b"));
    assert_eq!(h.stats().dropped_bytes.load(Ordering::Relaxed), 1);
    drop(h);
    assert!(matches!(inbox.recv(), Some(AuditMsg::Chunk { .. })));
    assert!(inbox.recv().is_none());
    assert_eq!(inbox.pinned_bytes(), 0);
}

fn chunk_text(msg: AuditMsg) -> Vec<u8> {
    match msg {
        AuditMsg::Chunk { bytes, .. } => bytes.to_vec(),
        m => panic!("{m:?}"),
    }
}

#[test]
fn order_is_causal_across_two_producer_threads() {
    // A offers n then hands the turn to B, which offers n+1 then hands
    // it back: the auditor must receive 0, 1, 2, ... whoever sent them.
    let (a, inbox) = channel(4096, 1 << 20);
    let b = a.clone();
    let (to_b, b_turn) = std::sync::mpsc::channel::<u32>();
    let (to_a, a_turn) = std::sync::mpsc::channel::<u32>();
    let producer = |mut h: AuditHandle,
                    turn: std::sync::mpsc::Receiver<u32>,
                    next: std::sync::mpsc::Sender<u32>| {
        std::thread::spawn(move || {
            while let Ok(n) = turn.recv() {
                if n >= 2000 {
                    let _ = next.send(n);
                    break;
                }
                h.offer(
                    Direction::ClientToServer,
                    Instant::now(),
                    Bytes::from(n.to_string()),
                );
                let _ = next.send(n + 1);
            }
        })
    };
    let ta = producer(a, a_turn, to_b.clone());
    let tb = producer(b, b_turn, to_a.clone());
    to_a.send(0).unwrap();
    drop((to_a, to_b));
    for n in 0..2000u32 {
        let got = inbox.recv().map(chunk_text);
        assert_eq!(got, Some(n.to_string().into_bytes()));
    }
    ta.join().unwrap();
    tb.join().unwrap();
    assert!(inbox.recv().is_none());
}

#[test]
fn a_sleeping_auditor_is_woken_by_an_offer_and_by_the_last_sender() {
    let (mut h, inbox) = channel(16, 1 << 20);
    let shared = h.shared.clone();
    let auditor = std::thread::spawn(move || {
        let first = inbox.recv().map(chunk_text);
        let end = inbox.recv().is_none();
        (first, end)
    });
    // Wait (on its state, not on time) until the auditor sleeps.
    while shared.auditor_state.load(Ordering::SeqCst) != ASLEEP {
        std::thread::yield_now();
    }
    h.offer(
        Direction::ServerToClient,
        Instant::now(),
        Bytes::from_static(b"x"),
    );
    while shared.auditor_state.load(Ordering::SeqCst) != ASLEEP {
        std::thread::yield_now();
    }
    drop(h);
    assert_eq!(auditor.join().unwrap(), (Some(b"x".to_vec()), true));
}

#[test]
fn refusals_respect_the_message_limit_and_ends_of_stream_never_wait() {
    let (mut h, inbox) = channel(1, 1 << 20);
    let t = Instant::now();
    h.offer(Direction::ClientToServer, t, Bytes::from_static(b"a"));
    let refused = AuditMsg::Refused(Box::new(Refusal {
        at: t,
        frame: Bytes::from_static(b"{}"),
        reply: Bytes::new(),
        rule: "r".into(),
        dry_run: false,
    }));
    assert!(!h.try_control(refused), "a full queue refuses a refusal");
    assert_eq!(h.stats().dropped_bytes.load(Ordering::Relaxed), 2);
    let eof = AuditMsg::Eof {
        direction: Direction::ClientToServer,
        at: t,
    };
    assert!(h.send_control(eof), "an end of stream always gets in");
    assert!(matches!(inbox.recv(), Some(AuditMsg::Chunk { .. })));
    assert!(matches!(inbox.recv(), Some(AuditMsg::Eof { .. })));
}

#[test]
fn without_a_receiver_nothing_waits_and_chunks_count_as_lost() {
    let (mut h, inbox) = channel(1, 1 << 20);
    h.offer(
        Direction::ServerToClient,
        Instant::now(),
        Bytes::from_static(b"a"),
    );
    drop(inbox);
    let end = AuditMsg::Eof {
        direction: Direction::ServerToClient,
        at: Instant::now(),
    };
    assert!(
        !h.send_control(end),
        "a full queue with no receiver must not block"
    );
    h.offer(
        Direction::ServerToClient,
        Instant::now(),
        Bytes::from_static(b"b"),
    );
    assert_eq!(h.stats().dropped_chunks.load(Ordering::Relaxed), 1);
}
