//! `inproc://NAME`: peers in one process linked directly in memory (no
//! sockets, no SSH, no encryption). Trust checks do not apply.

use crate::conn::{Conn, ConnKind, ConnOwner, InprocOwner};
use crate::error::{Error, Result};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<dyn InprocOwner>>>> =
    LazyLock::new(Default::default);

pub(crate) fn bind(name: &str, peer: &Arc<dyn InprocOwner>) -> Result<()> {
    let mut r = lock(&REGISTRY);
    if let Some(w) = r.get(name) {
        if w.upgrade().is_some_and(|p| !p.is_shut()) {
            return Err(Error::invalid(format!(
                "inproc://{name} is already bound in this process"
            )));
        }
    }
    r.insert(name.to_string(), Arc::downgrade(peer));
    Ok(())
}

pub(crate) fn unbind(name: &str, peer: &dyn InprocOwner) {
    let mut r = lock(&REGISTRY);
    // Compare addresses only: the same object may have two vtables.
    let me = std::ptr::from_ref(peer).cast::<()>();
    if r.get(name)
        .is_some_and(|w| std::ptr::eq(w.as_ptr().cast::<()>(), me))
    {
        r.remove(name);
    }
}

/// Link `client` to the peer bound at `inproc://name`.
pub(crate) fn connect(client: &Arc<dyn InprocOwner>, name: &str) -> Result<Arc<Conn>> {
    let server = lock(&REGISTRY)
        .get(name)
        .and_then(|w| w.upgrade())
        .filter(|p| !p.is_shut())
        .ok_or_else(|| Error::Io(format!("nothing is bound at inproc://{name}")))?;
    let cs = client.settings_for_inproc()?;
    let ss = server.settings_for_inproc()?;
    let c = Conn::new(
        owner(client),
        cs.0.clone(),
        true,
        format!("inproc://{name}"),
        ConnKind::Inproc(Mutex::new(Weak::new())),
        cs.1,
    );
    let s = Conn::new(
        owner(&server),
        ss.0.clone(),
        false,
        format!("inproc://{name}"),
        ConnKind::Inproc(Mutex::new(Weak::new())),
        ss.1,
    );
    if let ConnKind::Inproc(w) = &c.kind {
        *lock(w) = Arc::downgrade(&s);
    }
    if let ConnKind::Inproc(w) = &s.kind {
        *lock(w) = Arc::downgrade(&c);
    }
    // Channel metadata shows each side the other's own key, if it has one.
    if let Ok(k) = server.identity() {
        c.set_identity(crate::identity::Identity::of(k.public_key()));
    }
    if let Ok(k) = client.identity() {
        s.set_identity(crate::identity::Identity::of(k.public_key()));
    }
    c.mark_hello(&ss.0, ss.1.window);
    s.mark_hello(&cs.0, cs.1.window);
    // The two Conns keep each other alive only through the peers' tables.
    // Inproc links carry no key, so no name claim can be refused.
    let _ = server.add_conn(s);
    Ok(c)
}

fn owner(p: &Arc<dyn InprocOwner>) -> Weak<dyn ConnOwner> {
    let p: Arc<dyn ConnOwner> = p.clone();
    Arc::downgrade(&p)
}
