using FaceForge.Server;
using Microsoft.AspNetCore.Hosting;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit;

namespace FaceForge.Tests;

/// <summary>A fact that drives headless Chromium; skipped, saying what to install, where chromedriver or chromium is missing.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ChromeFactAttribute : FactAttribute
{
    public ChromeFactAttribute()
    {
        if (ServeBrowserTests.Driver is null || ServeBrowserTests.Browser is null)
            Skip = "chromedriver or chromium is not installed (Debian: apt-get install chromium chromium-driver): the browser test did not run";
        else if (TestPaths.SharedOrSkipMessage("models/yunet/face_detection_yunet.onnx", out var path) is var message && path is null) Skip = message;
    }
}

/// <summary>The web page at / in headless Chromium: enrol a person from a file, identify a photo, see the box and the name.</summary>
public class ServeBrowserTests(ServeFixture fixture) : IClassFixture<ServeFixture>
{
    private const string Face = "data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg";

    internal static string? Driver => new[] { "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver" }.FirstOrDefault(File.Exists);

    internal static string? Browser => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    [ChromeFact]
    public async Task PageEnrolsFromAFileAndDrawsTheNameOnAnIdentifiedPhoto()
    {
        var app = FaceServer.Build(fixture.Options(fixture.NewGallery(threshold: 0.5)), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        await using var _ = app;
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Browser };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900");
        using var browser = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        browser.Navigate().GoToUrl(app.Urls.First() + "/");
        browser.FindElement(By.Id("api-key")).SendKeys(fixture.WriteKey);
        wait.Until(d => d.FindElements(By.CssSelector("#gallery option")).Count > 0);

        browser.FindElement(By.Id("enrol-subject")).SendKeys("aaron");
        browser.FindElement(By.Id("enrol-files")).SendKeys(ServeFixture.Photo(Face));
        browser.FindElement(By.Id("enrol-button")).Click();
        wait.Until(d => d.FindElement(By.Id("enrol-status")).Text.StartsWith("enrolled", StringComparison.Ordinal) || d.FindElement(By.Id("enrol-status")).GetAttribute("class") == "error");
        Assert.StartsWith("enrolled 1 face(s) of aaron", browser.FindElement(By.Id("enrol-status")).Text);

        browser.FindElement(By.Id("identify-file")).SendKeys(ServeFixture.Photo(Face));
        browser.FindElement(By.Id("identify-button")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#results li")).Count > 0 || d.FindElement(By.Id("identify-status")).GetAttribute("class") == "error");
        var item = browser.FindElement(By.CssSelector("#results li"));
        Assert.Equal("aaron", item.GetAttribute("data-subject"));
        Assert.Contains("eyes", item.Text);
        // The canvas holds the photo with the box drawn: its size is the photo's, and the box's colour is on it.
        long width = (long)((IJavaScriptExecutor)browser).ExecuteScript("return document.getElementById('canvas').width;")!;
        Assert.Equal(250, width);
        bool green = (bool)((IJavaScriptExecutor)browser).ExecuteScript(
            "const g = document.getElementById('canvas').getContext('2d'); const d = g.getImageData(0, 0, 250, 250).data;" +
            "for (let i = 0; i < d.length; i += 4) if (d[i] === 0x22 && d[i + 1] === 0xc5 && d[i + 2] === 0x5e) return true; return false;")!;
        Assert.True(green, "no box drawn in the known colour");
        if (Environment.GetEnvironmentVariable("FACEFORGE_SCREENSHOT") is { Length: > 0 } screenshot)
            browser.GetScreenshot().SaveAsFile(screenshot);
    }
}
