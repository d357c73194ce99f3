/** The semantics that do not need a restart, over a memory broker (`storage: 'memory'`). */
import { embeddedMemory } from './embedded-harness.js';
import { acksLeasesSuite } from './semantics/acks-leases.js';
import { modesSuite } from './semantics/modes.js';
import { retriesDeadLettersSuite } from './semantics/retries-dead-letters.js';
import { routingSuite } from './semantics/routing.js';
import { streamsSuite } from './semantics/streams.js';

routingSuite(embeddedMemory);
streamsSuite(embeddedMemory);
modesSuite(embeddedMemory);
acksLeasesSuite(embeddedMemory);
retriesDeadLettersSuite(embeddedMemory);
