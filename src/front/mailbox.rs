//! A mailbox for one terminal's frames: the hub posts, the terminal's writer takes. It holds the
//! newest frame only, so a terminal that cannot keep up (a slow or stalled link) gets fewer
//! frames, never an ever-growing queue, and posting never waits. Bells are counted, never lost.
//! A writer may be a thread ([`Mailbox::take`]) or a task ([`Mailbox::next`]).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What waits for the writer.
#[derive(Debug)]
pub struct Post<F> {
    pub frame: Option<F>,
    pub bells: u32,
}

#[derive(Debug)]
struct Inner<F> {
    post: Post<F>,
    /// The hub is done with this terminal: the writer finishes and ends.
    closed: bool,
    /// The writer failed (why): the terminal is gone.
    failed: Option<String>,
}

#[derive(Debug)]
pub struct Mailbox<F> {
    inner: Mutex<Inner<F>>,
    ready: Condvar,
    /// The same news for a writer that is a task.
    wake: tokio::sync::Notify,
}

impl<F> Default for Mailbox<F> {
    fn default() -> Self {
        Mailbox {
            inner: Mutex::new(Inner { post: Post { frame: None, bells: 0 }, closed: false, failed: None }),
            ready: Condvar::new(),
            wake: tokio::sync::Notify::new(),
        }
    }
}

impl<F> Mailbox<F> {
    fn lock(&self) -> MutexGuard<'_, Inner<F>> {
        // A writer that panicked holding the lock left plain data behind: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the waiting frame with `frame` (an older one not yet taken is dropped). Err when
    /// the writer failed.
    pub fn post(&self, frame: F) -> Result<(), String> {
        let mut i = self.lock();
        if let Some(why) = &i.failed {
            return Err(why.clone());
        }
        i.post.frame = Some(frame);
        drop(i);
        self.wakeup();
        Ok(())
    }

    /// One more bell.
    pub fn bell(&self) -> Result<(), String> {
        let mut i = self.lock();
        if let Some(why) = &i.failed {
            return Err(why.clone());
        }
        i.post.bells = i.post.bells.saturating_add(1);
        drop(i);
        self.wakeup();
        Ok(())
    }

    /// The hub is done: the writer sends what waits and ends.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wakeup();
    }

    fn wakeup(&self) {
        self.ready.notify_one();
        // Stores a permit when the task is not waiting yet: no news is lost.
        self.wake.notify_one();
    }

    /// The writer's side, for a task: waits for something to send; `None` once closed and
    /// everything is taken.
    pub async fn next(&self) -> Option<Post<F>> {
        loop {
            {
                let mut i = self.lock();
                if i.post.frame.is_some() || i.post.bells > 0 {
                    return Some(std::mem::replace(&mut i.post, Post { frame: None, bells: 0 }));
                }
                if i.closed {
                    return None;
                }
            }
            self.wake.notified().await;
        }
    }

    /// Whether the hub is done with this terminal.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The writer's side: waits (up to `wait`) for something to send. `None` once closed and
    /// everything is taken; an empty post when the wait ran out.
    pub fn take(&self, wait: Duration) -> Option<Post<F>> {
        let mut i = self.lock();
        if i.post.frame.is_none() && i.post.bells == 0 && !i.closed {
            i = self.ready.wait_timeout(i, wait).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        }
        if i.closed && i.post.frame.is_none() && i.post.bells == 0 {
            return None;
        }
        Some(std::mem::replace(&mut i.post, Post { frame: None, bells: 0 }))
    }

    /// The writer failed: every later post says why.
    pub fn fail(&self, why: String) {
        self.lock().failed = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_writer_that_does_not_take_keeps_the_newest_frame_only() {
        let m: Mailbox<Vec<u8>> = Mailbox::default();
        for i in 0..10_000u32 {
            m.post(vec![0; 1024]).expect("posting never fails while the writer lives");
            if i % 1000 == 0 {
                m.bell().expect("a bell");
            }
        }
        let p = m.take(Duration::ZERO).expect("open");
        assert_eq!(p.frame.map(|f| f.len()), Some(1024), "one frame waits, not 10,000");
        assert_eq!(p.bells, 10, "bells are never lost");
        let empty = m.take(Duration::ZERO).expect("open");
        assert!(empty.frame.is_none() && empty.bells == 0);
    }

    #[test]
    fn closing_lets_the_writer_send_what_waits_then_end_and_a_failure_is_reported() {
        let m = Arc::new(Mailbox::default());
        m.post(1).unwrap();
        m.close();
        assert_eq!(m.take(Duration::ZERO).and_then(|p| p.frame), Some(1));
        assert!(m.take(Duration::ZERO).is_none(), "closed and empty: the writer ends");
        let m: Mailbox<u8> = Mailbox::default();
        m.fail("broken pipe".into());
        assert_eq!(m.post(2), Err("broken pipe".into()));
        assert_eq!(m.bell(), Err("broken pipe".into()));
    }

    #[tokio::test]
    async fn a_task_writer_takes_the_newest_frame_and_ends_when_closed() {
        let m = Arc::new(Mailbox::default());
        let w = m.clone();
        let writer = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(p) = w.next().await {
                got.push((p.frame, p.bells));
            }
            got
        });
        m.post(1).unwrap();
        m.post(2).unwrap();
        m.bell().unwrap();
        tokio::task::yield_now().await;
        m.close();
        let got = writer.await.expect("the writer");
        assert!(!got.is_empty() && got.len() <= 2, "{got:?}");
        assert_eq!(got.iter().map(|g| g.1).sum::<u32>(), 1, "the bell arrives once");
        assert!(got.iter().any(|g| g.0 == Some(2)), "the newest frame is sent: {got:?}");
    }

    #[test]
    fn a_waiting_writer_wakes_on_a_post() {
        let m = Arc::new(Mailbox::default());
        let w = m.clone();
        let writer = std::thread::spawn(move || w.take(Duration::from_secs(60)).and_then(|p| p.frame));
        std::thread::sleep(Duration::from_millis(20));
        m.post(7).unwrap();
        assert_eq!(writer.join().expect("the writer"), Some(7));
    }
}
