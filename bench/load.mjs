// The load: unique, correctly signed ~200-byte session.feedback_submitted deliveries, sent either as
// fast as the connections allow (autocannon, the burst) or at a steady offered rate (the soak).
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';
import { WEBHOOK_PATH } from './setup.mjs';

/** A request source: every delivery its own session id, body and signature (`sign(body)` gives the headers). */
export function deliveries(sign, runId) {
  let n = 0;
  const comment = 'Clear questions, good pacing; the follow-ups were relevant.';
  return {
    next() {
      const id = (n++).toString(36).padStart(7, '0');
      const body = `{"event":"session.feedback_submitted","session_id":"${runId}-${id}","feedback":{"rating":${(n % 5) + 1},"comment":"${comment}"},"timestamp":"2026-11-27T12:00:00.000Z"}`;
      return { body, headers: { 'content-type': 'application/json', ...sign(body) } };
    },
  };
}

/** As many requests as `connections` keep in flight for `duration` seconds (autocannon's result). */
export function cannon(url, { connections, duration }, source) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration,
        method: 'POST',
        requests: [{ method: 'POST', path: WEBHOOK_PATH, setupRequest: (req) => ({ ...req, ...source.next() }) }],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('error', reject);
  });
}

/**
 * Latencies in ms: exact counts in 10 µs buckets below 1 ms, 1 %-wide buckets above; a percentile is
 * its bucket's upper bound (at most 1 % high), the maximum is exact.
 */
export class Histogram {
  counts = new Float64Array(100 + 1400); // up to ~1,100 s
  count = 0;
  max = 0;
  static index(ms) {
    const us = ms * 1000;
    return us < 1000 ? Math.floor(us / 10) : Math.min(1499, 100 + Math.floor(Math.log(us / 1000) / Math.log(1.01)));
  }
  static upper(i) {
    return i < 100 ? (i + 1) / 100 : 1.01 ** (i - 99);
  }
  record(ms) {
    this.counts[Histogram.index(ms)]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }
  percentile(p) {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(Histogram.upper(i), this.max);
    }
    return this.max;
  }
}

const tally = () => ({ offered: 0, sent: 0, skipped: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, latency: new Histogram() });

/**
 * The stretches of consecutive seconds (by when requests were due) in which more than 1 % of the
 * 2xx answers were late (pacedLoad's `lateMs` or longer): where a minute's p99 comes from, one stall
 * or spread out. `perSecond[s]` is `{ ok, over, max }`; returns `[{ from, to, over, max }]` (seconds,
 * inclusive).
 */
export function lateStretches(perSecond) {
  const stretches = [];
  let open;
  // forEach skips the seconds with no 2xx answer (holes in the array).
  perSecond.forEach((sec, s) => {
    const late = sec.over > sec.ok / 100;
    if (late && open && open.to === s - 1) {
      open.to = s;
      open.over += sec.over;
      open.max = Math.max(open.max, sec.max);
    } else if (late) stretches.push((open = { from: s, to: s, over: sec.over, max: sec.max }));
  });
  return stretches;
}

/**
 * An open-loop sender: request i is due at start + i/rate seconds whether or not earlier ones were
 * answered, on up to `connections` keep-alive connections (requests wait for a free one). Latency is
 * counted from the moment a request was due, so a slow service cannot hide behind a slower sender
 * (no coordinated omission); `lag` is how late the sender itself issued them. A request due while
 * `rate * maxQueuedSeconds` are already waiting or in flight is counted as skipped, not sent.
 * `take()` returns the tally since the last take; `totals` is the whole run's.
 */
export function pacedLoad(url, { rate, connections, seconds, source, timeoutMs = 10_000, maxQueuedSeconds = 5, lateMs = 50 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
  const { hostname, port } = new URL(url);
  // perSecond: each second's 2xx answers (by when they were due), those that took lateMs or longer, the slowest.
  const totals = { ...tally(), lag: new Histogram(), perSecond: [], lateMs };
  let window = tally();
  let scheduled = 0;
  let pending = 0;
  const end = Math.round(rate * seconds);
  const t0 = performance.now();
  let finish;
  const done = new Promise((resolve) => (finish = resolve));

  const count = (field) => {
    window[field]++;
    totals[field]++;
  };
  const settle = () => {
    pending--;
    if (scheduled >= end && pending === 0) finish(totals);
  };
  const send = (due) => {
    pending++;
    count('sent');
    totals.lag.record(performance.now() - due);
    const { body, headers } = source.next();
    const req = request({
      agent,
      hostname,
      port,
      path: WEBHOOK_PATH,
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { timeout: true })));
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        const ms = performance.now() - due;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          count('ok');
          window.latency.record(ms);
          totals.latency.record(ms);
          const sec = (totals.perSecond[Math.floor((due - t0) / 1000)] ??= { ok: 0, over: 0, max: 0 });
          sec.ok++;
          if (ms >= lateMs) sec.over++;
          if (ms > sec.max) sec.max = ms;
        } else count('non2xx');
        settle();
      });
    });
    req.on('error', (err) => {
      count(err.timeout ? 'timeouts' : 'errors');
      settle();
    });
    req.end(body);
  };
  const tick = () => {
    const due = Math.min(end, Math.floor(((performance.now() - t0) * rate) / 1000));
    while (scheduled < due) {
      const at = t0 + (scheduled * 1000) / rate;
      scheduled++;
      count('offered');
      if (pending >= rate * maxQueuedSeconds) count('skipped');
      else send(at);
    }
    if (scheduled >= end) {
      clearInterval(timer);
      if (pending === 0) finish(totals);
    }
  };
  const timer = setInterval(tick, 1);
  void done.then(() => agent.destroy());
  return {
    done,
    totals,
    /** Stops sending now (after a failure elsewhere); what is in flight is abandoned. */
    stop() {
      clearInterval(timer);
      agent.destroy();
    },
    get pending() {
      return pending;
    },
    take() {
      const w = window;
      window = tally();
      return w;
    },
  };
}
