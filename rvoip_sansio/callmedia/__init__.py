"""rvoip_sansio.callmedia: the media of one call (RTP + SRTP + codec + jitter buffer + audio frames), sans I/O."""
