import { overTcp } from './tcp-harness.js';
import { replaySuite } from '../broker/semantics/replay.js';

replaySuite(overTcp);
