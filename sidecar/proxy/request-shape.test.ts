import { describe, expect, it } from "vitest";
import { routedPath, shapeOf, type RequestLine } from "./request-shape.ts";

const line = (over: Partial<RequestLine>): RequestLine => ({
  method: "GET",
  url: "/x",
  httpVersion: "1.1",
  rawHeaders: ["Host", "a.test"],
  ...over,
});

describe("request shape", () => {
  it("passes an origin-form request as it came", () => {
    expect(shapeOf(line({}))).toEqual({ target: "/x" });
    expect(shapeOf(line({ httpVersion: "1.0", rawHeaders: [] }))).toEqual({ target: "/x" });
  });

  it("refuses two Host headers, none in HTTP/1.1, and other HTTP versions", () => {
    expect(shapeOf(line({ rawHeaders: ["Host", "a.test", "host", "b.test"] }))).toMatchObject({
      detail: "more than one Host header",
    });
    expect(shapeOf(line({ rawHeaders: [] }))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
    expect(shapeOf(line({ httpVersion: "0.9" }))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
  });

  it("accepts only the chunked transfer coding", () => {
    const te = (v: string): RequestLine => line({ rawHeaders: ["Host", "a.test", "Transfer-Encoding", v] });
    expect(shapeOf(te("Chunked"))).toEqual({ target: "/x" });
    expect(shapeOf(te("gzip, chunked"))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
    expect(shapeOf(te("identity, chunked"))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
  });

  it("sends an absolute-form target naming Host in origin form, and refuses one naming another authority", () => {
    expect(shapeOf(line({ url: "http://a.test/p?q=1" }))).toEqual({ target: "/p?q=1" });
    expect(shapeOf(line({ url: "http://b.test/p" }))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
    expect(shapeOf(line({ url: "ftp://a.test/p" }))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
  });

  it("takes '*' for OPTIONS only", () => {
    expect(shapeOf(line({ method: "OPTIONS", url: "*" }))).toEqual({ target: "*" });
    expect(shapeOf(line({ url: "*" }))).toMatchObject({ code: "VX_ERR_BAD_REQUEST" });
  });

  it("matches overrides on the path an app routes on", () => {
    expect(routedPath("/anything/%61dmin?x=1")).toBe("/anything/admin");
    expect(routedPath("/a/./b/../admin/")).toBe("/a/admin/");
    expect(routedPath("//a///b")).toBe("/a/b");
    expect(routedPath("/../../etc")).toBe("/etc");
    expect(routedPath("/bad%zzescape")).toBe("/bad%zzescape");
    expect(routedPath("/")).toBe("/");
  });
});
