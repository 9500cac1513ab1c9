"""rvoip_sansio.srtp"""
