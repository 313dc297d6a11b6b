// consult-protocol.js — the WSS consult protocol (docs/protocol.md) for the
// room and join pages. No DOM here: one connection to wss://HOST/ws, incoming
// messages dispatched by type to callbacks, send() queued while the socket is
// not open, and after a drop a bounded number of reconnects with backoff.
// After every (re)connect the page's greeting is sent first (join/resume for
// a participant, watch for the clinician), so the server knows who we are.
//
//   const conn = connect({ greeting: (again) => ({ type: 'watch', consult: 12 }) });
//   conn.on('chat', (m) => ...);          // by type; '*' gets every message
//   conn.onStatus((s, info) => ...);      // connecting|open|reconnecting|failed|closed
//   conn.send({ type: 'chat', text });    // queued until open
//   conn.close();                         // for good: no reconnect

export const STATUS = Object.freeze({
  connecting: 'connecting', open: 'open', reconnecting: 'reconnecting', failed: 'failed', closed: 'closed',
});

// Delay before reconnect attempt n (1, 2, ...): exponential with a cap and
// up to 25% jitter (random() in [0, 1)).
export function backoff(n, { base = 500, max = 15000, random = Math.random } = {}) {
  const d = Math.min(max, base * 2 ** Math.max(0, n - 1));
  return Math.round(d * (1 + 0.25 * random()));
}

export function defaultUrl(loc = globalThis.location) {
  return `${loc.protocol === 'http:' ? 'ws' : 'wss'}://${loc.host}/ws`;
}

export function connect(opts = {}) {
  const {
    url = defaultUrl(),
    greeting = null, // (isReconnect) -> message object or null
    retries = 8,
    base = 500,
    max = 15000,
    pingEvery = 20000, // a ping keeps the connection known to be alive ...
    deadAfter = 45000, // ... and no message at all for this long means it is gone
    WebSocketImpl = globalThis.WebSocket,
    timers = globalThis,
    random = Math.random,
  } = opts;
  const handlers = new Map(); // type -> Set(cb)
  const statusCbs = new Set();
  let queue = []; // outgoing, while not open
  let ws = null;
  let status = null;
  let attempt = 0; // failed reconnects in a row
  let everOpen = false;
  let closedForGood = false;
  let retryTimer = null, pingTimer = null;
  let lastHeard = 0;
  let refSeq = 0;

  function setStatus(s, info = {}) {
    if (status === s && s !== STATUS.reconnecting) return;
    status = s;
    for (const cb of statusCbs) cb(s, info);
  }

  function dispatch(msg) {
    for (const key of [msg.type, '*']) {
      const set = handlers.get(key);
      if (set) for (const cb of [...set]) cb(msg);
    }
  }

  function open() {
    let sock;
    try {
      sock = new WebSocketImpl(url);
    } catch {
      return scheduleRetry();
    }
    ws = sock;
    sock.onmessage = (ev) => {
      if (sock !== ws) return;
      lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '');
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
      if (msg.type === 'hello') return onHello();
      dispatch(msg);
    };
    sock.onclose = () => {
      if (sock !== ws) return;
      ws = null;
      stopPing();
      if (!closedForGood) scheduleRetry();
    };
    sock.onerror = () => {}; // a close follows
  }

  function onHello() {
    const again = everOpen;
    everOpen = true;
    attempt = 0;
    lastHeard = Date.now();
    const g = greeting ? greeting(again) : null;
    if (g) raw(g);
    const q = queue;
    queue = [];
    for (const m of q) raw(m);
    startPing();
    setStatus(STATUS.open, { reconnected: again });
  }

  function raw(obj) {
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  function scheduleRetry() {
    if (closedForGood) return;
    if (attempt >= retries) {
      setStatus(STATUS.failed);
      return;
    }
    attempt += 1;
    const delay = backoff(attempt, { base, max, random });
    setStatus(everOpen ? STATUS.reconnecting : STATUS.connecting, { attempt, of: retries, delay });
    retryTimer = timers.setTimeout(() => {
      retryTimer = null;
      open();
    }, delay);
  }

  function startPing() {
    stopPing();
    if (!pingEvery) return;
    pingTimer = timers.setInterval(() => {
      if (!ws) return;
      if (Date.now() - lastHeard > deadAfter) {
        // Silent for too long: treat as a drop.
        const s = ws;
        ws = null;
        stopPing();
        try { s.close(); } catch { /* gone already */ }
        scheduleRetry();
        return;
      }
      raw({ type: 'ping', ref: `p${++refSeq}` });
    }, pingEvery);
  }

  function stopPing() {
    if (pingTimer) timers.clearInterval(pingTimer);
    pingTimer = null;
  }

  setStatus(STATUS.connecting, { attempt: 0, of: retries });
  open();

  return {
    // cb(msg) for messages of type ('*' for all); returns a function that removes it.
    on(type, cb) {
      if (!handlers.has(type)) handlers.set(type, new Set());
      handlers.get(type).add(cb);
      return () => handlers.get(type).delete(cb);
    },
    // cb(status, info) on every change; returns a function that removes it.
    onStatus(cb) {
      statusCbs.add(cb);
      return () => statusCbs.delete(cb);
    },
    get status() {
      return status;
    },
    // Sends obj now when open, else after the next (re)connect's greeting.
    send(obj) {
      if (closedForGood) return false;
      if (ws && status === STATUS.open && ws.readyState === 1) return raw(obj);
      queue.push(obj);
      return true;
    },
    // Starts over after 'failed' (a person pressed "try again").
    retry() {
      if (closedForGood || ws || retryTimer) return;
      attempt = 0;
      scheduleRetry();
    },
    // Closes for good: no reconnect, nothing more is dispatched.
    close() {
      closedForGood = true;
      queue = [];
      if (retryTimer) timers.clearTimeout(retryTimer);
      retryTimer = null;
      stopPing();
      const s = ws;
      ws = null;
      if (s) try { s.close(); } catch { /* gone already */ }
      setStatus(STATUS.closed);
    },
  };
}
