import { overTcp } from './tcp-harness.js';
import { prioritySuite } from '../broker/semantics/priority.js';

prioritySuite(overTcp);
