/**
 * config/: the iro config file (wg-quick shape: one [Interface], repeated [Peer]) parsed and
 * validated into a typed IroConfig. Every user-facing config error is made here, as a
 * ConfigError listing file, line and field of each problem.
 */
export * from './types.js';
export { parseConfig, interfaceNameOf } from './validate.js';
export { loadConfig, diskKeyFileReader, secretModeProblem } from './load.js';
export { noKeyFiles, deriveSignalKeymat, resolveKey, isKeyFileRef, SIGNAL_KEY_INFO, type KeyFileReader } from './keys.js';
export { closest, didYouMean, editDistance } from './suggest.js';
export { formatSpi, parseHostPort, parseInterfaceName, parsePeerName, parseSpi, quoteValue, type Parsed } from './values.js';
export { parseIni, FILE_FIELD, type IniDocument, type IniEntry, type IniSection } from './ini.js';
