"""rvoip_sansio.media"""
