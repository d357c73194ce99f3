import { overTcp } from './tcp-harness.js';
import { fairnessSuite } from '../broker/semantics/fairness.js';

fairnessSuite(overTcp);
