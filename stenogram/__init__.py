"""The legal record: segments, revisions, canonical form, signing, verification, exports."""
