import { overTcp } from './tcp-harness.js';
import { progressSuite } from '../broker/semantics/progress.js';

progressSuite(overTcp);
