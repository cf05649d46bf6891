package wire

// ReadPayload reads the pending frame's payload (after Next) into the
// reader's own buffer; the slice is valid until the next read.
func (fr *FrameReader) ReadPayload() ([]byte, error) {
	if uint32(cap(fr.buf)) < fr.size {
		fr.buf = make([]byte, fr.size)
	}
	p := fr.buf[:fr.size]
	return p, fr.Payload(p)
}
