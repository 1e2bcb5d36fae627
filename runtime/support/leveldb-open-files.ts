/**
 * The range LevelDB (1.20, as classic-level bundles it) clips `max_open_files` to: 64 table files plus the 10 files it
 * keeps for itself, up to 50,000 (`SanitizeOptions` in db_impl.cc). A value outside it would silently not do what it
 * says, so settings are checked against it.
 * @internal
 */
export const LEVELDB_MIN_OPEN_FILES = 74;

/** Upper end of LevelDB's `max_open_files` range ({@link LEVELDB_MIN_OPEN_FILES}). @internal */
export const LEVELDB_MAX_OPEN_FILES = 50_000;
