import { overTcp } from './tcp-harness.js';
import { requestReplySuite } from '../broker/semantics/request-reply.js';

requestReplySuite(overTcp);
