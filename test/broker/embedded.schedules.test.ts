import { embedded } from './embedded-harness.js';
import { schedulesSuite } from './semantics/schedules.js';

schedulesSuite(embedded);
