/**
 * The playground's preset scenarios: each is a set of parameters and a short script of events
 * (a spike, a poison message, a consumer crash) at times after the start, so one button shows
 * one behaviour of the real engine:
 *
 * - spike: the producers burst to PLAYGROUND_SPIKE_FACTOR times their rate for
 *   PLAYGROUND_SPIKE_MS; the consumers cannot keep up and the backlog rises, then drains;
 * - slow consumer: one consumer slower than the producer: the backlog grows until the stream
 *   is at capacity, then the overflow policy acts (rejections under reject-new);
 * - poison message: one message that every consumer fails: redelivered until maxDeliveries,
 *   then dead-lettered, while the rest flows;
 * - consumer crash: a consumer dies holding leases: its messages come back when the lease
 *   ends and are redelivered to the others.
 */
import type { PlaygroundParameters } from './playground-parameters.js';
import { DEFAULT_PARAMETERS } from './playground-parameters.js';

export type PlaygroundEventKind = 'spike' | 'poison' | 'crash';

export const EVENT_KINDS: readonly PlaygroundEventKind[] = ['spike', 'poison', 'crash'];

export interface ScriptedEvent {
  /** Time after the start of the run. */
  readonly afterMs: number;
  readonly kind: PlaygroundEventKind;
}

export interface PlaygroundPreset {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly parameters: PlaygroundParameters;
  readonly script: readonly ScriptedEvent[];
}

function preset(
  name: string,
  title: string,
  description: string,
  parameters: Partial<PlaygroundParameters>,
  script: readonly ScriptedEvent[],
): PlaygroundPreset {
  return Object.freeze({
    name,
    title,
    description,
    parameters: Object.freeze({ ...DEFAULT_PARAMETERS, ...parameters }),
    script: Object.freeze(script.map((event) => Object.freeze({ ...event }))),
  });
}

export const PRESETS: readonly PlaygroundPreset[] = Object.freeze([
  preset(
    'spike',
    'Spike',
    'Traffic bursts to ten times its rate for a few seconds: the backlog rises, then drains.',
    { ratePerSecond: 40, consumers: 2, processingMs: 20, capacity: 5_000, overflow: 'reject-new' },
    [{ afterMs: 2_000, kind: 'spike' }],
  ),
  preset(
    'slow-consumer',
    'Slow consumer',
    'One consumer slower than the producer: the backlog grows to the capacity, then the overflow policy acts.',
    { ratePerSecond: 50, consumers: 1, processingMs: 100, capacity: 200, overflow: 'reject-new' },
    [],
  ),
  preset(
    'poison',
    'Poison message',
    'One message fails every time: it is redelivered until maxDeliveries, then dead-lettered.',
    { ratePerSecond: 10, consumers: 2, processingMs: 20, maxDeliveries: 3, failureRate: 0 },
    [{ afterMs: 0, kind: 'poison' }],
  ),
  preset(
    'crash',
    'Consumer crash',
    'A consumer dies holding leases: its messages come back after the lease and go to the others.',
    { ratePerSecond: 20, consumers: 3, processingMs: 100, leaseMs: 2_000, capacity: 1_000 },
    [{ afterMs: 2_000, kind: 'crash' }],
  ),
]);

export function findPreset(name: string): PlaygroundPreset | undefined {
  return PRESETS.find((candidate) => candidate.name === name);
}
