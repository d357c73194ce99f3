import { overTcp } from './tcp-harness.js';
import { retentionSuite } from '../broker/semantics/retention.js';

retentionSuite(overTcp);
