import { overTcp } from './tcp-harness.js';
import { restartSuite } from '../broker/semantics/restart.js';

restartSuite(overTcp);
