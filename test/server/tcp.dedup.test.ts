import { overTcp } from './tcp-harness.js';
import { dedupSuite } from '../broker/semantics/dedup.js';

dedupSuite(overTcp);
