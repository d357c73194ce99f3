import { overTcp } from './tcp-harness.js';
import { streamsSuite } from '../broker/semantics/streams.js';

streamsSuite(overTcp);
