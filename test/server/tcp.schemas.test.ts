import { overTcp } from './tcp-harness.js';
import { schemasSuite } from '../broker/semantics/schemas.js';

schemasSuite(overTcp);
