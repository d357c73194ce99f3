// client.queue() over TCP: the network client builds the queue from existing calls.
import { overTcp } from '../server/tcp-harness.js';
import { queuesSuite } from '../broker/semantics/queues.js';

queuesSuite(overTcp);
