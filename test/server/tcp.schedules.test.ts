import { overTcp } from './tcp-harness.js';
import { schedulesSuite } from '../broker/semantics/schedules.js';

schedulesSuite(overTcp);
