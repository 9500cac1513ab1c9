"""rvoip_sansio.codecs"""
