import Testing

@testable import DriverConfig

@Suite("StreamIdRange and table order")
struct StreamIdRangeTests {
    @Test("parses a-b and a,b with blanks; rejects anything else")
    func parsing() {
        #expect(StreamIdRange("20000-29999") == StreamIdRange(lower: 20000, upper: 29999))
        #expect(StreamIdRange(" 1 , 2 ") == StreamIdRange(lower: 1, upper: 2))
        #expect(StreamIdRange("5-4") == StreamIdRange(lower: 5, upper: 4))
        for bad in ["", "-", "1-", "-1-2", "1-2-3", "1,2,3", "a-b", "1..2", "4294967296-1", "+1-2", "1,2-3"] {
            #expect(StreamIdRange(bad) == nil, "\(bad)")
        }
        #expect(StreamIdRange(lower: 20000, upper: 29999).description == "20000-29999")
    }

    @Test("count, contains and overlaps include both bounds")
    func membership() {
        let range = StreamIdRange(lower: 10, upper: 20)
        #expect(range.count == 11)
        #expect(range.contains(10) && range.contains(20) && !range.contains(9) && !range.contains(21))
        #expect(range.overlaps(StreamIdRange(lower: 20, upper: 30)))
        #expect(range.overlaps(StreamIdRange(lower: 12, upper: 13)))
        #expect(!range.overlaps(StreamIdRange(lower: 21, upper: 30)))
        #expect(!range.overlaps(StreamIdRange(lower: 15, upper: 12)))
        #expect(StreamIdRange(lower: 5, upper: 4).count == 0)
        #expect(StreamIdRange(lower: 0, upper: UInt32.max).count == 1 << 32)
    }

    @Test("the header scanner skips comments, strings and multi-line arrays")
    func scanner() {
        let source = #"""
            # [profiles.commented]
            text = """
            [profiles.in_string]
            """
            literal = '''
            [profiles.in_literal]
            '''
            nested = [
              [1, 2],
              ["profiles", "x"],
            ]
            quoted = "a # not a comment [profiles.no]"
              [ profiles . "b\u0041" ]   # comment
            [[profiles.'lit.name'.payload_pools]]
            [profiles.first]
            [streams.s]
            """#
        #expect(
            TableHeaderScanner.headers(in: source) == [
                ["profiles", "bA"], ["profiles", "lit.name", "payload_pools"], ["profiles", "first"], ["streams", "s"],
            ])
        #expect(
            TableHeaderScanner.firstHeaderPositions(in: source, root: "profiles") == [
                "bA": 0, "lit.name": 1, "first": 2,
            ])
        #expect(
            TableHeaderScanner.ordered(["first", "zz", "lit.name", "aa", "bA"], root: "profiles", source: source) == [
                "bA", "lit.name", "first", "aa", "zz",
            ])
    }

    @Test("key components are quoted when they are not bare keys")
    func keyQuoting() {
        #expect(KeyPath.join("profiles", "camera", "header_nslots") == "profiles.camera.header_nslots")
        #expect(KeyPath.join("profiles", "my cam") == "profiles.\"my cam\"")
        #expect(KeyPath.component("a\"b") == "\"a\\\"b\"")
        #expect(KeyPath.component("") == "\"\"")
    }
}
