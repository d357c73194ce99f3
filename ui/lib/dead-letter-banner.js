// The dead-letter banner: a line at the top of every page when dead letters arrive, "N new
// dead letters in STREAM" with a link to the dead-letter page of their target subject, until
// dismissed. It reads the live snapshots every page gets (each subscription's dead-lettered
// counter), so it costs the server nothing.
//
// "New" means since the console was opened or the banner last dismissed: the first snapshot
// is the baseline; a subscription that appears later counts from 0 (its dead letters are new);
// a counter that went down (the subscription was made again) counts from 0 too. Dismissing
// moves the baseline to what the latest snapshot says.
import { h, replace } from './dom.js';

const key = (subscription) => `${subscription.stream}\u0000${subscription.name}`;

export function createDeadLetterBanner(element) {
  /** Dead-lettered counter per subscription at the baseline. */
  let baseline = null;
  let latest = null;

  function dismiss() {
    if (latest) baseline = counters(latest);
    element.hidden = true;
    replace(element);
  }

  function counters(snapshot) {
    const map = new Map();
    for (const subscription of snapshot.subscriptions ?? []) {
      if (subscription.deadLetter !== null) map.set(key(subscription), subscription.deadLettered);
    }
    return map;
  }

  function update(snapshot) {
    latest = snapshot;
    if (baseline === null) {
      baseline = counters(snapshot);
      return;
    }
    // New dead letters per origin stream and target subject, in the snapshot's order.
    const news = new Map();
    for (const subscription of snapshot.subscriptions ?? []) {
      if (subscription.deadLetter === null) continue;
      const before = baseline.get(key(subscription)) ?? 0;
      const fresh =
        subscription.deadLettered >= before
          ? subscription.deadLettered - before
          : subscription.deadLettered;
      if (fresh <= 0) continue;
      const group = `${subscription.stream}\u0000${subscription.deadLetter}`;
      const entry = news.get(group) ?? {
        stream: subscription.stream,
        subject: subscription.deadLetter,
        count: 0,
      };
      entry.count += fresh;
      news.set(group, entry);
    }
    if (news.size === 0) {
      element.hidden = true;
      replace(element);
      return;
    }
    replace(
      element,
      h(
        'ul',
        { class: 'banner-lines' },
        [...news.values()].map((entry) =>
          h(
            'li',
            {
              dataset: {
                testid: 'dead-letter-banner-line',
                stream: entry.stream,
                subject: entry.subject,
              },
            },
            h('strong', { dataset: { testid: 'dead-letter-banner-count' } }, String(entry.count)),
            ` new dead letter${entry.count === 1 ? '' : 's'} in `,
            h('strong', null, entry.stream),
            ' ',
            h(
              'a',
              {
                href: `#/dead-letters/${encodeURIComponent(entry.subject)}`,
                dataset: { testid: 'dead-letter-banner-link' },
              },
              `see ${entry.subject}`,
            ),
          ),
        ),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'banner-dismiss',
          'aria-label': 'Dismiss',
          dataset: { testid: 'dead-letter-banner-dismiss' },
          onclick: dismiss,
        },
        'Dismiss',
      ),
    );
    element.hidden = false;
  }

  // Not shown before the first snapshot.
  element.hidden = true;
  // Hidden while logged out; the next snapshot after a login shows it again if need be.
  function hide() {
    element.hidden = true;
  }

  return { update, hide };
}
