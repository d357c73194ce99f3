/**
 * AMQP topic matching: a routing key is dot-separated words; in a binding key `*` stands for
 * exactly one word and `#` for zero or more. Words may be empty (`a..b`, a key of ""), as in
 * RabbitMQ. Matching is a backtracking walk over the two word lists with memo-free pruning of
 * consecutive `#`s: bounded by words(key) × words(pattern), both ≤ 255 bytes (shortstr).
 */

/** The words of a key or pattern. */
function words(value: string): string[] {
  return value.split('.');
}

/** A compiled binding key: its words, with runs of `#` folded into one. */
export class TopicPattern {
  readonly source: string;
  readonly #words: readonly string[];
  /** No wildcard at all: a plain string comparison. */
  readonly #literal: boolean;

  constructor(source: string) {
    this.source = source;
    const folded: string[] = [];
    for (const word of words(source)) {
      if (word === '#' && folded[folded.length - 1] === '#') continue;
      folded.push(word);
    }
    this.#words = folded;
    this.#literal = !folded.some((word) => word === '*' || word === '#');
  }

  matches(routingKey: string): boolean {
    if (this.#literal) return routingKey === this.source;
    return matchFrom(this.#words, 0, words(routingKey), 0);
  }
}

function matchFrom(
  pattern: readonly string[],
  patternIndex: number,
  key: readonly string[],
  keyIndex: number,
): boolean {
  while (patternIndex < pattern.length) {
    const word = pattern[patternIndex]!;
    if (word === '#') {
      if (patternIndex === pattern.length - 1) return true; // '#' last: the rest, even nothing
      for (let skip = keyIndex; skip <= key.length; skip++) {
        if (matchFrom(pattern, patternIndex + 1, key, skip)) return true;
      }
      return false;
    }
    if (keyIndex >= key.length) return false;
    if (word !== '*' && word !== key[keyIndex]) return false;
    patternIndex++;
    keyIndex++;
  }
  return keyIndex === key.length;
}
