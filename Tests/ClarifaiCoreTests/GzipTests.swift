import CZlib
import Testing
@testable import ClarifaiCore

// Fixtures from Python's gzip/zlib modules (zlib 1.x, mtime 0); the generator is summarised next to each.
// Block types were checked with a small instrumented decoder: 0 stored, 1 fixed, 2 dynamic.
private enum Fixture {
    /// gzip.compress(b"")
    static let empty: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ]
    /// gzip.compress(b"hello", level) for levels 0 (stored block), 1 and 9 (fixed Huffman blocks).
    static let hello0: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x01, 0x05, 0x00, 0xFA, 0xFF,
        0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x86, 0xA6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ]
    static let hello1: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xFF, 0xCB, 0x48, 0xCD, 0xC9, 0xC9,
        0x07, 0x00, 0x86, 0xA6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ]
    static let hello9: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xFF, 0xCB, 0x48, 0xCD, 0xC9, 0xC9,
        0x07, 0x00, 0x86, 0xA6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ]
    /// Level 9 of `skewedText` (600 bytes of 11 letters): one dynamic Huffman block.
    static let dynamic: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xFF, 0xED, 0xCA, 0xB1, 0x0D, 0x00,
        0x30, 0x08, 0x03, 0xB0, 0x5B, 0x13, 0x41, 0x44, 0xE0, 0xFF, 0x9D, 0xBE, 0xD0, 0x9D, 0xD5,
        0x32, 0xC0, 0x90, 0xA9, 0x11, 0x2A, 0x39, 0x6D, 0xF7, 0x30, 0x0B, 0x0F, 0x68, 0x05, 0x81,
        0x0B, 0x17, 0xFE, 0xC3, 0x02, 0x27, 0x11, 0xD0, 0x1D, 0x58, 0x02, 0x00, 0x00,
    ]
    /// Level 9 of b"a" * 70000 + b"xyz" * 10000: runs copied at distances 1 and 3.
    static let runs: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xFF, 0xED, 0xC2, 0x41, 0x11, 0x00,
        0x00, 0x08, 0x03, 0xA0, 0xAC, 0x6B, 0xA1, 0xA6, 0xB7, 0xC4, 0x9E, 0x70, 0x24, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0xDB, 0xEC, 0xA9, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x56, 0x3E, 0x78, 0xCD, 0x85, 0xA4, 0xA0, 0x86,
        0x01, 0x00,
    ]
    /// One member with blocks stored, stored (sync flush), fixed, stored (full flush), dynamic:
    /// b"stored block " * 3 at level 0, b"fixed huffman block " * 4 with Z_FIXED, then `skewedText` at level 9.
    static let multi: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x27, 0x00, 0xD8, 0xFF,
        0x73, 0x74, 0x6F, 0x72, 0x65, 0x64, 0x20, 0x62, 0x6C, 0x6F, 0x63, 0x6B, 0x20, 0x73, 0x74,
        0x6F, 0x72, 0x65, 0x64, 0x20, 0x62, 0x6C, 0x6F, 0x63, 0x6B, 0x20, 0x73, 0x74, 0x6F, 0x72,
        0x65, 0x64, 0x20, 0x62, 0x6C, 0x6F, 0x63, 0x6B, 0x20, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x4A,
        0xCB, 0xAC, 0x48, 0x4D, 0x51, 0xC8, 0x28, 0x4D, 0x4B, 0xCB, 0x4D, 0xCC, 0x53, 0x48, 0xCA,
        0xC9, 0x4F, 0xCE, 0x56, 0x48, 0xA3, 0x40, 0x0C, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xED, 0xCA,
        0xB1, 0x0D, 0x00, 0x30, 0x08, 0x03, 0xB0, 0x5B, 0x13, 0x41, 0x44, 0xE0, 0xFF, 0x9D, 0xBE,
        0xD0, 0x9D, 0xD5, 0x32, 0xC0, 0x90, 0xA9, 0x11, 0x2A, 0x39, 0x6D, 0xF7, 0x30, 0x0B, 0x0F,
        0x68, 0x05, 0x81, 0x0B, 0x17, 0xFE, 0xC3, 0x02, 0x9C, 0x0A, 0xB2, 0x46, 0xCF, 0x02, 0x00,
        0x00,
    ]
    /// b"hello" with FEXTRA (one subfield), FNAME "name.txt", FCOMMENT "a comment" and FHCRC.
    static let headers: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x1E, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0x00, 0x61, 0x62, 0x02,
        0x00, 0x6E, 0x61, 0x6D, 0x65, 0x2E, 0x74, 0x78, 0x74, 0x00, 0x61, 0x20, 0x63, 0x6F, 0x6D,
        0x6D, 0x65, 0x6E, 0x74, 0x00, 0x05, 0x37, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x86,
        0xA6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ]
    /// gzip.compress(b"hello ") + gzip.compress(b"world")
    static let twoMembers: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xCB, 0x48, 0xCD, 0xC9, 0xC9,
        0x57, 0x00, 0x00, 0xF6, 0xF9, 0x81, 0xED, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x8B, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x2B, 0xCF, 0x2F, 0xCA, 0x49, 0x01, 0x00, 0x43, 0x11,
        0x77, 0x3A, 0x05, 0x00, 0x00, 0x00,
    ]
    /// `payloadText()` through gzip.GzipFile(filename="payload.bin", compresslevel=6): one dynamic block with
    /// codes up to 12 bits (past the 10-bit table) and distances up to 31591.
    static let payload = """
H4sICAAAAAAA/3BheWxvYWQuYmluAM1dd2CN5/e31W2NGJWat/aIVbvUptSOiD2CIJVBJCShaNCgiIoRNSO+qF1F7E1bYiVGqFm1
gi9itUb6+9773qj09z7Pe57nnOe9/ru5973veJ4zPudzPufGx89rkLc10HuQT4C/NWiwtzVghHeg1S9ggLevxdcrLNQ6IGCQdWCg
l5+3dYSXb7C3tV9gwEh/a39fr0CfgV4+jj/tH1n6B/j39x4a5DjQx39ocJB1YECI4+vDg7yCgofrntRiO+rLYL+hw+2f2K/uON46
yL1D07TX2m3pHGzx8x4+3PYg2kkDgoNs17bfgWVYsE//IY77tD+cdozjke2343jt+PL/jrHYr5p2Uu1+HAdpV3ZcQftD+8Ti+MR2
CfvXHcfYFjXtTPYF1t7WDrEdbP+eRbtI2p3bd8V+5xbbQ9oPfrPm2qf/WwaLD3v3tG87Xtvftn3uOPTt71mGnn1UJbH7ps9/zz3+
2w0vZy1xLLbtcNtS26+tban2hNpr+9u2z23H/fMVy5u71K6sHWw7xvYc2nVtr2zvaJ9pG6jtj+189h3551ntVmT/rv3Vmw/sh9mO
f/NNi+2c2lNrN5q26tpV7WugvXR8YHEYqv09xyNo33xzFdsp3/yhfeY4UPuWZr6I81g0o3vzWZoPOU5je0pdgzfwGBkDdhyW9qW3
zyDnRID4YUmquazMia5l8nWuEdnGbXeL6xR2wPEYxzPaXmnvvbkR4gVjByRt/Rz7bNHecuyc9gi2208zA9uNpr22va8dkWaC9vgm
9bSOG0o7teN5tLO/cRv7raU9kPIwZOwIDguyv3S8nbaMVJ7MNT8LLjKCvi23nWnrad8xbcXt9+/YZvtTWYaFrO6Wy63k1ay3J55v
medWK3ikptlgzklAD5D2h/0D7RhtW0juTi5vWdN/jZnFtS11XIoYrDgO19CCKGZr4TYqLi61Z8bAAk0yvSzdIRKC4Rx/2Dzffn37
NdMeKu0E2pNoR2qv0z5JO1Lb4LQTgNDjP1d2HKA9hHA0c3xmbJgC9gMBvziIaA5GYqQkyCJbGjxZFd66cq+UMRc6lC3sO3gjBAEI
WhzJZgkjRSY6l8nfkE0QyoZy8AwIURzLob2vHaR9I21tbh0K3hf9yQerml79un3qmewevDgPeHL9AlFoOVBQQrKAkdqCvI1/OZ4w
Yv7OQ4eb/T12c/B2UPJHlRtMQ8ZhG2eUb47DtNuXKdiFowAerBuVbbrchgwzQFzOiNcLwosLy40GCB2SpNBLI5qyIFmw2/Cu/drW
/qXyhdrbP+w/sXoHAXBugMGY+RwJ3cTpQbnASpWmSIDDmdXrUsp718z6MPTU6j1DaolbebeJGT/123epz80lMx6HtnywFW+MvHQr
YEU4aIqubRHw35ruq6g6AusSVDSEYIARQ0fopwRQlohNgGEg6vxmEEMFHMn5QAqDD01KoPDllMLV/qF5zndO7LI3Kte0nkMWRTeQ
TD1GVkGxWUjuQjQJS9WrohcRzoqw9CEYFamCMUGKRtcNYC8wrDBCj9yZGX4pplmmQJ9W9V+XqYnL+y8vVcnYxmND7K7/jppSvWH+
L3HBjwdl9FcARrgifQxvADzgQ9qKeStDUuFmI4NCU9YypbtMl0T7gq30kcopsBiFXg00OsM5NDzQGBTi2Mcwyr2MeCCkJAGwkUzy
RRJSUCUlaH+ZFTbZLSg9CoqmOUbHaYj0lZh+i00Lbh1nTV8VOPt9l7szfvW0zj9OXJLQrLmMdoQqc6BjANTIhUEwB2fgEIxoHxtT
KBtto/C9QJcbelyvlNx/VX2V68Wopf6hS5/X/EHPFs1gIem4JRjyIrscppAnjkZSshSqZCeF14SLUGXKG6ZwRdhD2blMNAR+PDe1
Rkz1whNi79Yo4fb0vwMYOEEGm6MhsBidmdOl3+kDmbMtKrS86P5vLtY/iMzqICkVTW6WMjg+7FZKHKNsXbetT9BQNeaixcUebHBs
ljYa2g0lSzV6uRnVkCeuj9gfIBAU85xifmEivccKmSjXlAnyAL+DtBKMqnxAhQ4K2Ib9HRMQonk6Q1bBYLxnDBgAAdnXmrw3LWL3
dwPH3B68MP5x5ck4HgpiPLr1hLntFFSI5OQZElMhJFEITwXyV7UTNRz1n8n2g3lOdNIA9U6kGoZG1IQuGERTAYjQKFyJmVvk/NtK
nSFwRXqGVA0PyFgMdZvTAoii5yTZT6K6FVcXyDup6cJNCbUuu9kkVe2bP1nHQyV0bBC7r4YyLmZBh+kkyO2cMOuggBwg8XZRSAO8
OUbcxlUNkDrladjDVLciRZP+dhtaKm/GSp6AHEPMpePj2JHwWiHPXFt9F9i4y5WSM//4kPgGDeOe2QkyPXISibrIgUyxhieSHRQc
hNN3IIgLoGLsmnzX3N2iUh5Ove2dWrzrOi+YLkZc5cRIHIoqbohqwgDESVVKKOIOwI7x2wVSt4xAcKZsHmpJpSW92PpIDKQJxUDE
hkGiya4XJ12nzD+WHL++WlidnqemZt1T+vv2HSfVLVK4rvvMB6+TAFZKSC9Jua6wSkpQQmkMMWAsNs7EqIcYDHHC1EwJmcvWc4sb
HzfsZLildGbAOujqlYy/BjFxOpKfyi4g3gUXZMKPxANQVCBXhBjSG3uHefFZVszpFnGg1M/3k+P+OpI57+MVr0PDsiad2PL6vRd1
8kk2aoASIGARBGNgOXfzDrQeC6c8uT+2+2qPu2tOZz+QGlTf6Qrot5KBFL4Rh6okLA2h2FG4ZsfJ6Y2aqzxXQ1uLAoCLdyomD8UA
GjSdYbOGfWEhEBbl5fG2+v4yo8JGzjjhJU8yzTVUUSRUbUgBcLW/DQC0WEhkNYp1evgVDsyYcYNeKsj1LeZ9tLrT6rH/ltY77gy7
cTTySs4IosEQCHpneCPEkfk5Iv/pyF2F/SrMz7D/zN5nI68HCFm7+hYQMbcLMnLAmsLCuxmEj2GZxcMfUlsiGa2IaIB0OgSlrSBK
KC6g/7VkeV2/Uclm1co+fr/81tu1t45kHOZc1aSU5UjnZnZIxsERaAZFObJoOaJqXyyVO322sFjw7LM9izXc0OC7dTnxRIjuhkpB
IEjQVb0LElZmyfPH7ZEeDxvUGnGo7Yl6XUO6so/kERlMPQDzAzOldiiDpEpjZPQlSbUJm5MRa2millnO6dAjqizzFM7k4mMqrEtj
LB3zXT7Mdtp4tFymFuvHUbdWmPl6SIVSO38td+GxW3L2bS2jxp3UzT/SQn+jKt3UOVom33i9xa6Km30PX1oafOz+ngFZXwm7Gu7y
eAanYLOP7m37aoFHj0ox8R3mLqhL7BoMkpHxNtmmyqgDEa3pPRXnz7y6ec6dbM/61PU4sH0kP/pAcS51lBJLgOoU+aAzq4obOKoW
728kgEem0QA2O1j/Wq6Ih+B+/BrzlwegAeHojhmRy225ZVX8gklLXRN29Ng0/04rDHZRMm9rWTdywpmowG3zk06G3OxXpvkQrGCL
S9rKFV66AEL+JqS/aX3zTbDThCa7Hhj+0eTdOX4Imd1uies9wc3hEQVGPRaF6m4eUT7q3t6EW0WmTPG4VHZ0LZeKbqCwIYZkzR1s
MvW/fij8CTdVv6uvtj0O9EdCFtjcCgK/fLzICQjmet1AU8YcWXjEUNmvJ78Dvsd0AaOLshOXKZJf9IYAYLOcDkWGL2UyuHpbRpOV
xCI+L+1iEJxJgVaYd2bulFm/raRgsoxSoscxcuJi/Ovoac1T2vW/ZMkU225RaKOXPEuk8Qx+UaQbRImaBbgZXWo1jpSt61YmArYM
yM/kinhxTMpZNKTCzUCphC/5cRE3MrDnJ4daLwq4XKLBxUsVLsXL15xmKs7kQJ/89CQ7n8uvF4QQEtI1cQAchHaE3I8CLRuuC3Aq
ubxrs79dEjvP+GVW7cZLF4vtqpFz4hrOkEU3uRK7PrXhBzd2nN+xb+ykRy+nBYzHKy+kvF5ol6Qnl3lBHSLzoAEfJKy3ycp0bplh
EFcJQSnhqcAdANX9bJGAjpjoYN8BdCVwsOdMy41jak0OKP3goN+qAbk3NoLhNlwu4BUSyFBAaIliGepMYq5qJUtG5b+2vPqxJw8D
c5F0j9GYHgIV0KQfgoVwfIvCqARWBZ6YAFSV7hZRLQkq/0pFnfvHRo1ee6vpttTTzYfsL5f1c2GxCAhNUZXtrEF0ekRnmRzoGhv9
IGHCxwXmhBT8PCycz1Ug+jS4MlFpcfBWk6NquRMnfHJmKjRzbpkyqR+sP8OL6e5tq2bN+Ohyx5SBiwtGT8/+m3A3EE054xsb6Oof
hvuBhKJYbuKbKghhy5szDp5gGG5BBwcuPc/Q0Wamm0xglkPh1HgrR/GoxPw1LpBGbPwsqey09cVO9qn/+cjIvzxN6UOCGAQgtYq9
X6A/6JqsiplfSmyPj4jo5ZVn6BjLAwsTwnjOKalT+T9Eppv95RSs5MSxXges984KXt7TLi6NXJl4e+h3BzyNaB+1E5B3ii0Ju22p
sc3fI2/VDvvcmnpsnbO5Y4Vc1vo1jm+5EP/pVCa7zFHj6Zs7DUmG/NUcnJBCuPmFiBkkvKS8U7p4jq25ZvWN71dNOdlsycinnrVb
1MgQ/1d44ujw0n5HoxrFIvcBD1wM238UC6ibK1VriTv9POVBk6z/vVDKpUGzV8WKfy0Vj4eXvtymb9aq+VtVz1E5MeuanLkXDpxT
Msata5cdUUdTq+Q+JdM1gjQHa43oMmR9ntbZh8xe1iJ1csF2OI6IsmaH6cqU/8qhpPySiH8BJpNjDbNsWnuyTuvkhS9XbG0dkws0
DImkA505pmPCtJhE9gCtOg65q3RPKVxHXFIq5kokQRdPE+ZMP+CuJEXLzJJjQ/zVD08ELV7uuq9pu9yDH4T0yB7Y9WSVLin12pQ8
0u7r1WxUyWCOUYQ7KCPIYzgS5gnH0AhVKySQiaqTwgQoCHcleUCTJ4upxBKURRnCJ6RWD0Mqc8p9WMiCpBCpVIewCWUtYEnVEZIT
Scd3qGGSILWLaf1spNJHdQUKbD4QMZOGqwFzU5NIdnjehh8pGYSVFWUwHlRRpYu3bZkCULjDbaK+U/WPh4pFb6FGNsPjlY6J63Hu
7NE9YytGMkJSTgDBHKhOuymC1U/P3e/bo/mlrJdLZjhU2zO5FN5neAn+j5GT/vN+ROSliztfrvntyINbxKo7fDtZzotptgoebCqf
O1OqRFzHGPeP7hQ6mSmxBq7AJrl5UJmO48GAvCijikLDcakgcaSxT40nIb4VQw5mqnDhfMfMwniMmCFCERVQHZVOcL+dVGxe3I4S
F9t/0aVivugDO4VzuToJNcx0M07b6DKxxh7/6CW91kwvmGEdtgdhEJZ57KMTfv4I921I6JZqoIHQtbNnDHFrZzaThXtWKJyV8tML
185+9HG16i3njcsXs2XT+yuZ/Mj9jx9Gn3Cp2SHLjqGvrbGd9oOUy1IGCADJ8KxOVatD3I0JtlXVoul+jgBH4gDqATNoOxEyCY+q
jegmsZoPFDhRqJJQV/jlziYLFhUenK3IxuSoszcutADla+UrblxMEC4BIM5877/75Em3Zz1bLH5Qp33Ooq1e1Ni4ulz5czcXVuk5
YcH2MoWkHJsRYfCLKxox9DCl5/YGBw5WynUvYtBXC/d/1jaeqqulyr6osfwX3j/6+gRFPnwyol7fVP/bXpwuiuVM8Rmevy/OtPuu
38uQ2Vd2G0UT0BLo7QnaaaI/e+wZ5lKpV86u+0Krr6jeW1fd1TJjzjuZZv/afMX0ciE7Yjp02bvs6eiPf10eWDsmdWCce0JR6bRM
VAybaokCaQhZtAQvrlMrxrXxwlFXVvaoNfvgT/L8X5nyfZbGho8I77Bvt9e4CqtLkzR9ecQTKpcJka/Ckc0YzWBYxHdB4AN4RIpe
F2WHM/3BMsGerZLhK7KMmAHnDgMR/B8xiNUqmf0HZAXU4oLKTBDyNnFA7//xpJDqEbVMa/Jdc3eLSnk49bZ3avGu67yATWFhZaZ0
X4u3xUB+Q76rSjlGzyvPcEhAfDd4hKYuxqPCUDKxm0rJPX7cr+17Bdzo1OZGn5jhca8qys3gsSxZ1W8Pv0vjpno1hmSTzqmafrhb
4whYGp0OKklR8h54vAJI+lSRBuU3gmlbN2SaS8NC9A+wgCNKfIv/0BzOqcjk/sJdTwEyWsx+lCstheordq2kFHAp661JgQ6qMESV
slD4ElX8EUF9I/2WAeqikyiQsBtyxiqpSoTEVGYLUTAU4fvzlDUT8RAGohEp3A7GBWxcisR928gV+YwZSAltgIsh5xAg2gHpVShB
8qhtYTt51KNs2/BJPg2/KeLTo+S9u1G44TVjj8IJYAyVUvr+CtSqUSVL4rIXhYjl2zLCKe/dapdBojuxri6dQhRUNuNjGX4iFgXP
sN0ciX+zDXRmQuIBUtwaRSahCC8ImsTkPvIRAckTizISCLiEKlfGz6vpMbDjgB8613Sv+U1yp3rE4VyXrVEys4IjoSBWLww3lMzm
s7t8CTNX+A8unzwjuP3NeccPz3iICXUAGMcR3TCQiVBYUL2dPAtTiulFgjEo4TGTB+GN3D2a6Pfp9Sb3f1oyZ+KFuJTszoFpb5EC
FDI67LSsfnQTS1ACpZVTpqIpLgprvRiBChlmUXeDxvzn/LChZZrGr1gz4Om57i4baKA8vvCFeTuupiQj9HnlBB8Eq1a8ARgfPPEG
4gkhJQ1uO2nlWRH567Qp5BOcmpB/ScuE5DFWMmNx2Rb2w+KI1WFrGtRo/iLxrbwiq5WFddfEIjFhYcFOySTGjwNnepmQIsrj7ori
DkBOiXO4adkilnje8aqyotm54iNGvRrBQrqYkkwWz4kjcoMZL0L8CAmF5pFhnMWXWigSr2bHZVQVkM74N8bW/CSo9kdN+g6oe3rw
tBX3QWeW6r/BIvS1ZZkzhn3fpfm4BUcXl22/sROhxcFAp2Rzi71XwkQyIGwiuCFn9V/TscNQKQPl5BwqygtXSSD+W/isMB8COT6A
ulaielD0P0yEmCTdMzjDp8COwAeX5nRrssRk/tN132nfBw2uBXzb5kRnlHlQdvRxhqpOiMZabRJky0Z2UJtipyzeWuMrZQGC61yx
5hvCrb/5lPrMw1pqyk/vEeYDcwocDiMNgyNUTXkQrkNxuKjFUHxlLjkF9RdQkISUNUomq3BLCHo2wb4smtMpWLnfxCutOo0Y8WWB
iKpniiyUhObUBRyXShGijEwUe7CDvWjfBNlJo3pmYQChx3KpmK38h1TmgzY14J/Zg0SjFpqmCO4hpFwZlmjx4zVCJYi6g5H+KRjk
yToCqPRl1kgZrP4WALgQlYlRkBKfEaBxZXR+NxSNEVMUvMRNPjMkTOpxMB8PjBhZB0bzIzByRWJR+towuppPeNcAFojsO1P0CcSc
gKFcAVUACo0tHbiDxVlcLMcRwlJIhBd/5GobhRP9uoAZt+RSIkYUuSeeG3FmIfWEeK089FeBhAIFSWwiVg9jsplaCQZoE4Hifaow
CvV0Tlwim2xnBoUZe5Y0vPy48LAX+QrMK3jw95dSLiQ+rSOG9zgrxGZW2J+YqwP/B24g59iFwgeVOvPf7Kl4SCeT5lH5paDxwQiM
QnsK/+E/e+3KpA8eXlkQfbgYWWXO7OTC7ssIM8KLjAyN/LL4Tm3iN2r9Nw87jXk5VkqGAp2fErYyt7XHzm56+uhwgW1J+TZ+MOFR
k3qnAx98PXT+bdfteRtmuxECShBSsJIdZ1CkilF5jkNKfHKU/UjKSzKaUpaIYhG2QpPwllN/SgwDAgHmA0oXjCoaGF14DXaknF+u
jsQsqYwpkMweq/u3UCDpMsRMhJs8MovJsyaUBlvMLcWDlTwMJg5z5gqITFxwkxXb6RrF4mwruh/wdv3hhE6j2A2a1bdR+0MPSoRF
lP+47F2Zj3u2N/BKzy+rbilWu0L5dhXmXISnOap4IeyQTqDIdVtAum8CMptMMv1iyfbx43dmrvYoZ1DvlluuxOOKCcXzTbzMD7ev
OnunJ+fKGdVzXaWD31cu0aWlZJhBJdHWPa79eHjYI2vRWoMbPUmdPLFXUuyTcoUilwW6j74RefDyPEiuc5ajU9FWoPPo+gKU6JXc
WeHwbTLPDVlbvG5ZbZsGyVqgmB7qCk5IrySV0xHOqpwXhdTMOHAqtL5mdMl5o4oCYij5aVYpI0IlLEEOX8bFiItcGF2v1DJBGU6q
AShgZjBxiTK6Pn1SId5j4tMJJ34aRg4A7UHbw+z4Ay4gXCxJme3mtt3nvO+dcuSoZ7Z9t8f/8JVgVME5KxQ1ysQuCbW9CBdFbOcU
tRiN6fNgFc0VeDUjWtJLuMXirJXi/x+XXloj3yQyQCUqf/fEZEPHVSUQrCC1wpATA0zJ1O6F4AAX53AnkHoMdzVF6ZVOSK9CkUUT
lflyCP6nVDGN2exfV/mp98rQQJervtlDC7923cALzSRzeQDvM7PbyLBfTj26/NLWijV+frL2+rWSOcrmOX+ASA5CJaViNXPGhg2J
3bFrQ55LpVsPmXvGJZRiM4mZH5T/k7ckX5TZPax22+dum93vPQ8b3Li0njFTNHrohs+VzzmaPIBIFfzM+Q0Vzg6jDFsqlUrlcuzu
mkQQcNYK7wGiSghGN5uqr0vGaL87ZTAf8ED6PZKtLjZChNGn6DACboDzDE7y4UlmjEQQgPjYxjskzhXI66xy3BRYaMzagFKX2TaF
/B+iAm0nQDQBFCTHAspaI29lGJP0Y9i4u41Gbgd2znTLHwOERRbw95zo98XZT+pWzlTO9eHzc6c6I9qq+FaIaJAjEpUZ4B1+JoIg
bkCzQa59aWAlUpiQalYq3U7BUicelwk4vdTiwDqH8hGPqpahyON8u6eCrsI+/OGD2JNzO63a5dFiRL2UIm13A5xLaqtVM9fp/IMi
3mMkMUx8guOKYe4CijjQVqXoyrPh/okCc2/+OWhZZPGC14qNPBxzTuG0G9AjYctp6g8ysSpbJElA3zejWxacTE+ctQbVumKUmW6J
KVS3GZTnhE1gGcgGcxShB+Z0POA/EWFuw1B3l1Vrq5QhPUx6M2qbjBratdvd3s09WiWduvlLeAd3XnuLp54QdEPeZUTzGCyJQg7S
q0ep9FgkXsRbtkVF5yXMeS9Lz7PFSgTtD3ralizqGyE0kh4PFOTwo697ndBFZXfNGp5zad6EkPhJDY1uXWxojWQLGf1U/nOZ2/gD
mLyyMRksfDI5vDJlA7BkAJpixS0IidGCIhw8DgDMgOEm3adsSZofkPecpdKzJr7bDrvJbLc8FBFHsHKYgyyXwnfYtNamCf8HUDjg
Mb0YhBrUqLKQKmbkiel+Ioy5tsiJRaf00g3hNJtTkarmxPAJKEorEh5aGo7fkThwZFy32a1GRy/a/fdjKR4DT4OjuEu8BBzSTjPA
pMDemZQ9QWIvLnAw8jbVbAeLdKMrdgAIVe3PirCWEG2cJidVmghN1WwhHppRL1gjiIVRM0tfD7jaKYdn9ebL4xsWi4REJxh/iGjW
iYYCYk0ND6rQsYbmliXSTXYkoU+tKE6/lyDsbXZMo0ozUuiIx/6Jl6ZSAMLnaK1zM5633Js5srv1z9p7PiXMhVREq64XM2CDHuEL
iZLMokZ8G4TljebKlBT+qjuz8w7LQV6zA6teSfiq9511xdeW/Gr+d0K10r9/0UCdqhamnDQh76LWR05jz4lXWK0xZiXkJ2jxQj8q
PEt1HpRFGUl35JoEUrnRnBEW2XyBq6n5vSGUX4sPuRk7CZDAsA650yX0cMSr6dV8N2b++7f7OCyKsWN8pYWPC8IbAQuTwggX3sQR
oPxR5SL8MvIVFDp6KGRHVPjo26yxLl4mpktyJLkVzzMtcf3c5qUGjJ8Vm2JEo6O5Lph3SAFiKr06svhGmyxJ21CQzFET5ZhrRGzF
8m1rGLqXAtkmjcfhEAwBbgbpt5TLS1C8L4UQGucQCpQuovMZyLYvFQEHQe3C0UrNdLXkvw4kkvgitWdRe32n5F2asduQsh7NNnWM
bjSwccPY5CxdNi5OnD/u2z82yOrIRB5OwXBIuqgjtT0wgEIRMagcl8l5ogyEire2DJ646VmflbWu35iwuMjOXJ4/IXYdlq1Rjy1N
QXFqedhtSytYQImeYI4RMu9lgqyOkzvoghZ0TIzds9w3adSd3vUfD+38Z2efaGvceSNODr9BxKAaTjjgbx3DQygUfwsUbUj4CgDI
Z0d/G/F5O99TmbzdE74N7tsHIhlCia5UjL6rQmImq8uZHTKEhJmuYXu82Xb338b47c9Voe/z1TtDwhmJGWJA+O0yQS0gRqvJ7Z0E
HpLio+I6Hzo1eH/P7fmGnupz3LvLAOKgznx4PBGAH3UVqx7EN+T3U66Xl2a7Gz/bc1bu9s0PHcG2Op0hlMZELWD/B6LVoiF9OJiZ
WdToffB/8y1ioKCGAQA=
"""
    static let payloadCRC: UInt32 = 0xA0622DF3

    static let skewedText = (0..<600).map { UInt8(97 + $0 * $0 / 3 % 11) }

    /// 100,000 bytes: 64 distinct word lines in random order, 1 in 16 records being 16 random bytes,
    /// and 400 bytes repeated from 32,700 bytes back. Mirrors the Python generator.
    static func payloadText() -> [UInt8] {
        let words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "gRPC", "message", "frame",
                     "clarifai", "model", "output", "concept", "value", "image", "region", "input", "status"]
        var state: UInt32 = 12345, out: [UInt8] = [], copied = false
        func next() -> Int {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Int(state >> 8)
        }
        while out.count < 100_000 {
            let r = next()
            if r % 16 == 0 {
                for _ in 0..<16 { out.append(UInt8(truncatingIfNeeded: next())) }
            } else {
                let k = r % 64
                for i in 0..<(4 + k % 9) {
                    if i > 0 { out.append(32) }
                    out += Array(words[(k * 7 + i * i) % words.count].utf8)
                }
                out.append(10)
            }
            if !copied && out.count >= 50_000 {
                copied = true
                out += out[(out.count - 32_700)..<(out.count - 32_300)]
            }
        }
        return Array(out.prefix(100_000))
    }

    /// Hand-built streams (a bit writer in Python), each refused by zlib too, with the failure expected here.
    /// Streams a decoder must refuse, each with what is wrong with it.
    static let hostile: [(name: String, bytes: [UInt8], problem: String)] = [
        ("farDistance", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x4B, 0x04, 0x42, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "distance too far back"),
        ("distanceCode30", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x4B, 0x04, 0x3E, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "invalid distance code"),
        ("lengthCode286", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x1B, 0x03, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "invalid length code"),
        ("blockType3", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x07, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ], "invalid block type"),
        ("storedLength", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x01, 0x05, 0x00, 0xFB,
            0xFF, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x86, 0xA6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
        ], "stored block length check failed"),
        ("noEndOfBlock", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xCB, 0x48, 0xCD, 0xC9,
            0xC9, 0x07,
        ], "truncated data"),
        ("oversubscribedCodeLengths", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x93, 0x24,
            0x49, 0x92, 0x24, 0x49, 0x92, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "invalid code length code"),
        ("incompleteCodeLengths", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x01, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "invalid code length code"),
        ("oversubscribedLiterals", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x21, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0x6C, 0xEB, 0x1F, 0x7A, 0x03, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ], "invalid literal/length or distance code lengths"),
        ("incompleteLiterals", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x21, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0xFC, 0xFD, 0x4B, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00,
        ], "invalid literal/length or distance code lengths"),
        ("noEndOfBlockCode", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x21, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0x6C, 0xFD, 0x53, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00,
        ], "missing end-of-block code"),
        ("repeatFirst", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x05, 0x09,
            0x00, 0x00, 0x00, 0x00, 0x20, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "repeated code length without a previous one"),
        ("tooManyLengths", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x05, 0xE0, 0x21, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0xF4, 0xEF, 0xDF, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00,
        ], "too many code lengths"),
        ("tooManyLiterals", [
            0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xF5, 0xE0, 0x21, 0x09,
            0x00, 0x00, 0x00, 0xC0, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "too many length or distance codes"),
        ("badMagic", [
            0x1F, 0x8C, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x03, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "not gzip data"),
        ("badHeaderCRC", [
            0x1F, 0x8B, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x12, 0x34, 0x03, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ], "header CRC mismatch"),
    ]
    /// Hand-built and accepted by zlib: a lone 1-bit distance code (an allowed incomplete code) copying "aaaa".
    static let loneDistanceCode: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x0D, 0xE0, 0x21, 0x09, 0x00,
        0x00, 0x00, 0xC0, 0x30, 0x64, 0x5D, 0xFF, 0x12, 0xFF, 0x2C, 0x45, 0xE5, 0x98, 0xAD, 0x04,
        0x00, 0x00, 0x00,
    ]
}

/// Gzip decodes with zlib; these feed it valid, truncated, corrupt and hostile streams.
@Suite struct GzipTests {
    func gunzip(_ bytes: [UInt8], limit: Int = 1 << 24) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Gzip.decompress($0, limit: limit) }
    }

    /// The failure's description, or nil when the input decoded.
    func failure(_ bytes: [UInt8], limit: Int = 1 << 24) -> String? {
        do {
            _ = try gunzip(bytes, limit: limit)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func base64(_ text: String) -> [UInt8] {
        var writer = WireWriter()
        let ok = Array(text.utf8.filter { $0 != 10 }).withUnsafeBytes { writer.appendBase64Decoded($0) }
        precondition(ok)
        return writer.bytes
    }

    /// A small LCG, so that the random inputs are the same on every run.
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
    }

    @Test func decodesEveryBlockType() throws {
        let hello = Array("hello".utf8)
        #expect(try gunzip(Fixture.empty) == [])
        #expect(try gunzip(Fixture.hello0) == hello)
        #expect(try gunzip(Fixture.hello1) == hello)
        #expect(try gunzip(Fixture.hello9) == hello)
        #expect(try gunzip(Fixture.dynamic) == Fixture.skewedText)
        #expect(try gunzip(Fixture.loneDistanceCode) == Array("aaaa".utf8))
    }

    @Test func decodesRunsMultipleBlocksHeadersAndMembers() throws {
        #expect(try gunzip(Fixture.runs) == [UInt8](repeating: 97, count: 70_000) + Array(String(repeating: "xyz", count: 10_000).utf8))
        let multi = String(repeating: "stored block ", count: 3) + String(repeating: "fixed huffman block ", count: 4)
        #expect(try gunzip(Fixture.multi) == Array(multi.utf8) + Fixture.skewedText)
        #expect(try gunzip(Fixture.headers) == Array("hello".utf8))
        #expect(try gunzip(Fixture.twoMembers) == Array("hello world".utf8))
    }

    @Test func decodesALargePayloadAcrossTheWholeWindow() throws {
        let output = try gunzip(base64(Fixture.payload))
        #expect(output.count == 100_000)
        #expect(output.withUnsafeBytes { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) } == Fixture.payloadCRC)
        #expect(output == Fixture.payloadText())
    }

    @Test func refusesCorruptTrailers() {
        var crc = Fixture.hello9
        crc[crc.count - 8] ^= 1
        #expect(failure(crc) == "gzip: incorrect data check")
        var size = Fixture.hello9
        size[size.count - 4] ^= 1
        #expect(failure(size) == "gzip: incorrect length check")
        // Whatever follows a member must be another member.
        #expect(failure(Fixture.hello9 + [0]) != nil)
        #expect(failure(Fixture.hello9 + [0x1F, 0x8C] + Fixture.hello9.dropFirst(2)) == "gzip: incorrect header check")
        #expect(failure(Fixture.hello9 + Fixture.hello9.prefix(10) + [0xFF]) != nil)
    }

    @Test func refusesEveryTruncation() {
        for fixture in [Fixture.empty, Fixture.hello0, Fixture.dynamic, Fixture.multi, Fixture.headers] {
            for end in 0..<fixture.count {
                #expect(failure(Array(fixture[..<end])) != nil, "truncated at \(end) of \(fixture.count)")
            }
        }
        let payload = base64(Fixture.payload)
        for end in stride(from: 0, to: payload.count, by: 101) {
            #expect(failure(Array(payload[..<end])) != nil, "payload truncated at \(end)")
        }
    }

    @Test func refusesHandBuiltHostileStreams() {
        for (name, bytes, problem) in Fixture.hostile {
            #expect(failure(bytes)?.hasPrefix("gzip: ") == true, "\(name): \(problem)")
        }
    }

    @Test func survivesGarbage() {
        var random = Random(state: 1)
        let header: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        for round in 0..<3000 {
            let garbage = (0..<random.next(300)).map { _ in UInt8(random.next(256)) }
            #expect(failure(garbage) != nil)
            // Behind a valid header the bytes reach the block decoder; a lucky decode would still fail its CRC.
            #expect(failure(header + garbage) != nil, "round \(round)")
        }
        // Flipped bits in valid streams must fail cleanly or decode (a flip in MTIME is harmless).
        for fixture in [Fixture.multi, Fixture.dynamic, Fixture.runs] {
            for _ in 0..<500 {
                var bytes = fixture
                bytes[random.next(bytes.count)] ^= UInt8(1 << random.next(8))
                _ = failure(bytes)
            }
        }
    }

    @Test func stopsAtTheLimit() throws {
        let payload = base64(Fixture.payload)
        #expect(failure(payload, limit: 99_999) == "gzip: decompressed message exceeds the receive limit of 99999 bytes")
        #expect(try gunzip(payload, limit: 100_000).count == 100_000)
        #expect(failure(Fixture.runs, limit: 1000) == "gzip: decompressed message exceeds the receive limit of 1000 bytes")
        #expect(failure(Fixture.hello0, limit: 4) == "gzip: decompressed message exceeds the receive limit of 4 bytes")
        #expect(failure(Fixture.hello9, limit: 0) == "gzip: decompressed message exceeds the receive limit of 0 bytes")
        #expect(try gunzip(Fixture.empty, limit: 0) == [])
    }
}
