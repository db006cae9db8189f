"""Environments (dev -> staging -> production): where a model version is rolled out in turn, what
it must have passed upstream, and who must approve it before it moves on."""
