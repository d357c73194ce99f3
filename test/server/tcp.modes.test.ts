import { overTcp } from './tcp-harness.js';
import { modesSuite } from '../broker/semantics/modes.js';

modesSuite(overTcp);
