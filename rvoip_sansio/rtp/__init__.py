"""rvoip_sansio.rtp"""
