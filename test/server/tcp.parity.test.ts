import { overTcp } from './tcp-harness.js';
import { paritySuite } from '../broker/semantics/parity.js';

paritySuite(overTcp);
