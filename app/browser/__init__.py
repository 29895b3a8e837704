"""The dataset browser: a virtualised thumbnail grid over a filtered, sorted query."""
