import { overTcp } from './tcp-harness.js';
import { partitionsSuite } from '../broker/semantics/partitions.js';

partitionsSuite(overTcp);
