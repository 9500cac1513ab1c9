"""rvoip_sansio.sdp"""
